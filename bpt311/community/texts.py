"""The words residents write on a report, checked the same way everywhere (missing or too
long: a whole sentence per kind of text, since word order differs between languages), and
how a person is named on a public timeline."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from bpt311.models import (
    User,
)
from bpt311.problems import InvalidInput

# What to say about each kind of text when it is missing or too long: whole sentences,
# since word order differs between languages.
TEXT_MESSAGES = {
    "a comment": (
        _l("Write a comment"),
        _l("Keep a comment to %(limit)s characters or fewer"),
    ),
    "what is wrong": (
        _l("Write what is wrong"),
        _l("Keep what is wrong to %(limit)s characters or fewer"),
    ),
    "a note": (_l("Write a note"), _l("Keep a note to %(limit)s characters or fewer")),
    "what is still wrong": (
        _l("Write what is still wrong"),
        _l("Keep what is still wrong to %(limit)s characters or fewer"),
    ),
    "a description": (
        _l("Write a description"),
        _l("Keep a description to %(limit)s characters or fewer"),
    ),
    "a reason": (_l("Write a reason"), _l("Keep a reason to %(limit)s characters or fewer")),
}


def checked_text(value: str, field: str, limit: int, required: bool, what: str) -> str:
    text = (value or "").strip()
    missing, too_long = TEXT_MESSAGES[what]
    if required and not text:
        raise InvalidInput(field, str(missing))
    if len(text) > limit:
        raise InvalidInput(field, str(too_long) % {"limit": limit})
    return text


def public_name(user: User | None) -> str:
    """How a person is named on a public timeline: staff as the city, never by private name."""
    if user is None:
        return "A former resident"
    if user.is_staff:
        return (
            f"City of Bridgeport, {user.department.name}"
            if user.department
            else ("City of Bridgeport")
        )
    return user.public_name
