"""What we accept as a person's name: anything they type, stored as typed, except
control characters (line breaks, tabs, NUL, escapes: Unicode category Cc), the
Unicode line and paragraph separators, and U+FFFD, which is what a NUL sent in a form
becomes as the request is read (bpt311.security.Request).

A name travels into email subjects, push titles, CSV cells and logs; a line break there
can start a header of its own ("X\\r\\nBcc: a@b"). One check, used by every form field and
every other way in (the Open311 API, ``flask users create``) that takes a person's name.
"""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

MESSAGE = _l("A name cannot contain line breaks, tabs or other control characters")


REFUSED_CATEGORIES = ("Cc", "Zl", "Zp")
REPLACEMENT_CHARACTER = "\ufffd"


def has_control_characters(text: str | None) -> bool:
    """True when ``text`` holds a control character (Unicode category Cc: CR, LF, NUL,
    tab, escape...) or a line or paragraph separator (U+2028, U+2029), which splits a
    line (and an email header) as LF does; or U+FFFD, a NUL as a form delivers it."""
    return any(
        char == REPLACEMENT_CHARACTER or unicodedata.category(char) in REFUSED_CATEGORIES
        for char in text or ""
    )


class PersonName:
    """WTForms validator for a field that takes a person's name."""

    def __call__(self, form, field) -> None:
        if isinstance(field.data, str) and has_control_characters(field.data):
            raise ValidationError(str(MESSAGE))
