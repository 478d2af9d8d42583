"""Refusing passwords that attackers try first.

The list is the 30,000 most common passwords of the Xato corpus (ten million
passwords from public breaches, compiled by Mark Burnett) as bundled in the
``zxcvbn`` package (pinned in requirements.txt): a maintained list from the
package registry rather than a copy of our own.
"""

from __future__ import annotations

from functools import cache

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

COMMON_MESSAGE = _l(
    "This is one of the most common passwords, so it is among the first that attackers "
    "try. Choose another: three or four unrelated words are strong and easy to remember"
)


@cache
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS  # heavy: large word lists, on first use

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def is_common(password: str) -> bool:
    """Whether the password (ignoring case and spaces around it) is on the list."""
    return (password or "").strip().lower() in common_passwords()


class NotCommon:
    """WTForms validator: refuse a password from the common-passwords list."""

    def __call__(self, form, field) -> None:
        if field.data and is_common(field.data):
            raise ValidationError(str(COMMON_MESSAGE))
