"""Staff move a report's status (acknowledge, close with an optional photo after the work,
reopen) or add a note only; the move itself is :mod:`bpt311.reports.lifecycle`'s."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from bpt311.audit import record
from bpt311.community.following import tell_followers
from bpt311.models import (
    Report,
    User,
    utcnow,
)
from bpt311.problems import InvalidInput
from bpt311.reports import lifecycle
from bpt311.reports.service import placed_media
from bpt311.staff.acting import (
    add_event,
    check_may_change,
    checked_text,
    commit_or_stale,
)
from bpt311.watchers.events import announce

STATUS_ACTIONS = {
    "acknowledge": _l("Acknowledge"),
    "close": _l("Close"),
    "reopen": _l("Reopen"),
    "note": _l("Add a note only"),
}


def change_status(
    report: Report,
    actor: User,
    version: int | None,
    action: str,
    public_note: str = "",
    internal_note: str = "",
    photo=None,
    commit: bool = True,
) -> None:
    """Acknowledge, close, reopen, or only add notes. Closing needs a public note."""
    check_may_change(report, actor, version)
    if action not in STATUS_ACTIONS:
        raise InvalidInput("action", _("Choose what to do"))
    public = checked_text(public_note, "public_note", required=action == "close")
    internal = checked_text(internal_note, "internal_note")
    now = utcnow()
    if action == "acknowledge":
        if report.status != "open":
            raise InvalidInput(
                "action", _("It is already %(status)s", status=report.status_label.lower())
            )
        lifecycle.move(report, "acknowledge", lifecycle.STAFF, now)
        kind, headline = (
            "acknowledged",
            _l("%(department)s acknowledged it", department=report.department.name),
        )
    elif action == "close":
        if report.is_closed:
            raise InvalidInput("action", _("It is already closed"))
        lifecycle.move(report, "close", lifecycle.STAFF, now)
        kind, headline = (
            "closed",
            _l("%(department)s closed it", department=report.department.name),
        )
    elif action == "reopen":
        if report.status != "closed":
            raise InvalidInput("action", _("Only a closed report can be reopened"))
        lifecycle.move(report, "reopen", lifecycle.STAFF, now)
        kind, headline = (
            "reopened",
            _l("%(department)s reopened it", department=report.department.name),
        )
    else:
        if not (public or internal):
            raise InvalidInput("public_note", _("Write a note for the public or an internal note"))
        kind, headline = (
            "note",
            _l("%(department)s added a note", department=report.department.name),
        )
    add_event(report, actor, kind, public, internal)
    if photo is not None:
        _attach_after_photo(report, photo)
    record(
        actor,
        f"status.{action}",
        report,
        status=report.status,
        public_note=public,
        internal_note=internal,
    )
    if kind != "note" or public:
        tell_followers(report, headline, public, actor=actor)
        announce(report, "status", actor=actor, note=public)
    if commit:
        commit_or_stale()


def _attach_after_photo(report: Report, photo) -> None:
    media = placed_media(photo, f"Photo after the work on the {report.category.name}", 50)
    report.media.append(media)
