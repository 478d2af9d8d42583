"""One report from another system, as every reader hands it to the importer.

Readers (GeoReport v2, SeeClickFix, CSV) differ only in how they fill this in; the
importer (:mod:`bpt311.imports.service`) knows nothing of where a record came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

# The statuses other systems use, mapped to ours. Unknown ones are open: a report is never
# closed by a word we do not understand.
STATUS_WORDS = {
    "open": "open",
    "new": "open",
    "submitted": "open",
    "acknowledged": "acknowledged",
    "in progress": "acknowledged",
    "in_progress": "acknowledged",
    "closed": "closed",
    "resolved": "closed",
    "fixed": "closed",
    "archived": "archived",
}


class BadRecord(Exception):
    """A record that cannot be imported; str() says why, in words for the summary."""


@dataclass
class IncomingComment:
    author: str  # a public name, or "" for "A resident"
    text: str
    created_at: datetime
    by_city: bool = False


@dataclass
class Incoming:
    source_id: str  # the id in the other system, unique there
    category: str  # its service code or request type's name, mapped by the category map
    description: str
    latitude: float | None
    longitude: float | None
    created_at: datetime
    status: str = "open"
    address: str = ""
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    status_notes: str = ""
    agency: str = ""
    media_urls: list[str] = field(default_factory=list)
    comments: list[IncomingComment] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    vote_count: int = 0
    link: str = ""  # the report's page in the other system


def status_of(word: str | None) -> str:
    return STATUS_WORDS.get((word or "").strip().lower(), "open")


def moment(text: str | None, what: str) -> datetime | None:
    """An ISO 8601 time from another system as aware UTC; a time without a zone is UTC."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise BadRecord(f"{what} is not a date and time: {text[:40]!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def coordinate(value, what: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise BadRecord(f"{what} is not a number: {str(value)[:40]!r}") from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise BadRecord(f"{what} is not a number")
    return number
