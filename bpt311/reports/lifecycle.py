"""A report's life: the one place its status changes.

Every caller (a resident, the reporter, staff, housekeeping, Open311 sync, an import)
names a *move* and who makes it; :func:`move` checks the table below and sets the status
and the times that go with it. The caller still writes its own timeline entry and says
who is told (its words and notices differ), but no code outside this module assigns
``Report.status``. Each move touches the report's days of the figures' daily summary
(bpt311/reports/daily.py), so the figures move in the same transaction.

    open ──acknowledge──▶ acknowledged
    open, acknowledged ──close / resolve / merge──▶ closed
    open (not yet acknowledged) ──withdraw──▶ closed
    closed ──reopen──▶ open
    closed ──archive──▶ archived
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l

from bpt311.models import STATUS_LABELS, Report
from bpt311.reports import daily

INITIAL = "open"

# Who makes a move. "staff" includes administrators; "system" is the city's own machinery
# (housekeeping, Open311 sync with a work-order system, an import of history).
RESIDENT, REPORTER, STAFF, SYSTEM = "resident", "reporter", "staff", "system"
ROLES = (RESIDENT, REPORTER, STAFF, SYSTEM)


@dataclass(frozen=True)
class Move:
    name: str
    sources: tuple[str, ...]
    target: str
    roles: frozenset[str]
    event: str  # the timeline entry's kind
    description: str
    # Closing by the city counts as acknowledging it too (when it had not been); a
    # reporter's own close or withdrawal does not, so response-time figures stay honest.
    acknowledges: bool = False


MOVES: dict[str, Move] = {
    move.name: move
    for move in (
        Move(
            "acknowledge",
            ("open",),
            "acknowledged",
            frozenset({STAFF, SYSTEM}),
            "acknowledged",
            "The department has seen it and is on it.",
        ),
        Move(
            "close",
            ("open", "acknowledged"),
            "closed",
            frozenset({STAFF, SYSTEM}),
            "closed",
            "The department fixed it (or will not), with a public note.",
            acknowledges=True,
        ),
        Move(
            "resolve",
            ("open", "acknowledged"),
            "closed",
            frozenset({REPORTER}),
            "closed",
            "The reporter says it is fixed.",
        ),
        Move(
            "withdraw",
            ("open",),
            "closed",
            frozenset({REPORTER}),
            "withdrawn",
            "The reporter takes it back before the city has started on it.",
        ),
        Move(
            "merge",
            ("open", "acknowledged", "closed"),
            "closed",
            frozenset({STAFF}),
            "duplicate",
            "The same problem as another report, which carries on.",
            acknowledges=True,
        ),
        Move(
            "reopen",
            ("closed",),
            "open",
            frozenset({RESIDENT, REPORTER, STAFF, SYSTEM}),
            "reopened",
            "Not fixed after all: back to the department's queue, with a new due time.",
        ),
        Move(
            "archive",
            ("closed",),
            "archived",
            frozenset({SYSTEM}),
            "archived",
            "Closed long ago: kept in the record, out of the way.",
        ),
    )
}


class MoveRefused(Exception):
    """This move cannot be made from the report's status, or not by this role."""

    def __init__(self, move_name: str, status: str, role: str, message: str):
        super().__init__(message)
        self.move_name, self.status, self.role = move_name, status, role


def allowed(status: str, move_name: str, role: str) -> bool:
    found = MOVES.get(move_name)
    return found is not None and status in found.sources and role in found.roles


def _refusal(move_name: str, status: str, role: str) -> MoveRefused:
    found = MOVES.get(move_name)
    if found is None:
        raise ValueError(f"no such move: {move_name!r}")
    if status not in found.sources:
        if status == found.target:
            message = _l("It is already %(status)s.", status=_status_words(status))
        else:
            message = _l(
                "A report that is %(status)s cannot be changed that way.",
                status=_status_words(status),
            )
    else:
        message = _l("You cannot do that to this report.")
    return MoveRefused(move_name, status, role, str(message))


def _status_words(status: str) -> str:
    return str(STATUS_LABELS.get(status, status)).lower()


def move(report: Report, move_name: str, role: str, now: datetime) -> Move:
    """Make the move on ``report`` (in the caller's transaction), or raise MoveRefused."""
    if not allowed(report.status, move_name, role):
        raise _refusal(move_name, report.status, role)
    found = MOVES[move_name]
    values = changes(found, now, report)
    daily.touch(report)  # the days it counted on (a reopened report loses its closing day)
    for name, value in values.items():
        setattr(report, name, value)
    daily.touch(report)  # and the days it counts on now: both recounted before the commit
    return found


def changes(found: Move, now: datetime, report: Report | None = None) -> dict[str, Any]:
    """The columns a move sets. Without ``report`` (a bulk UPDATE over many rows), only
    those that do not depend on the row."""
    values: dict[str, Any] = {"status": found.target, "updated_at": now}
    if found.target == "acknowledged":
        values["acknowledged_at"] = now
    elif found.target == "closed":
        values["closed_at"] = now
        if report is not None and found.acknowledges:
            values["acknowledged_at"] = report.acknowledged_at or now
    elif found.target == "open":
        values["closed_at"] = None
        if report is not None:
            values["due_at"] = now + timedelta(hours=report.category.sla_hours)
    elif found.target == "archived":
        values["archived_at"] = now
    return values


def bulk(move_name: str, now: datetime) -> tuple[Any, dict[str, Any]]:
    """For a move made on many rows in one UPDATE: (the WHERE condition on the status,
    the values to set). Only moves whose changes do not depend on the row qualify."""
    found = MOVES[move_name]
    if found.target in ("closed", "open"):
        raise ValueError(f"{move_name} depends on each report: move them one by one")
    return Report.status.in_(found.sources), changes(found, now)
