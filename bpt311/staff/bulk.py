"""One action applied to many reports from the queue: all of them, or (on any problem)
none."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from bpt311 import effects
from bpt311.extensions import db
from bpt311.models import (
    Report,
    User,
)
from bpt311.problems import InvalidInput, NotAllowed
from bpt311.staff.acting import (
    StaleReport,
    commit_or_stale,
)
from bpt311.staff.assignment import assign, recategorise
from bpt311.staff.status import change_status

BULK_ACTIONS = {
    "acknowledge": _l("Acknowledge"),
    "assign": _l("Assign to"),
    "recategorise": _l("Change category to"),
    "close": _l("Close with the note"),
}


def bulk(
    actor: User,
    selections: list[tuple[int, int]],
    action: str,
    assignee_id=None,
    service_code: str = "",
    public_note: str = "",
) -> int:
    """Apply one action to many reports: all of them, or (on any problem) none."""
    if action not in BULK_ACTIONS:
        raise InvalidInput("action", _("Choose what to do with the chosen reports"))
    if not selections:
        raise InvalidInput("ids", _("Choose at least one report"))
    versions = dict(selections)
    reports = db.session.scalars(select(Report).where(Report.id.in_(versions))).all()
    if len(reports) != len(versions):
        raise InvalidInput("ids", _("Some of the chosen reports no longer exist"))
    current = ""
    try:
        for report in reports:
            current, version = report.tracking_number, versions[report.id]
            if action == "acknowledge":
                change_status(report, actor, version, "acknowledge", commit=False)
            elif action == "close":
                change_status(report, actor, version, "close", public_note, commit=False)
            elif action == "assign":
                assign(report, actor, version, int(assignee_id or 0) or None, commit=False)
            else:
                recategorise(report, actor, version, service_code, commit=False)
        commit_or_stale()
    except StaleReport as exc:
        effects.rollback()
        raise InvalidInput(
            "ids",
            _(
                "%(number)s was changed by someone else meanwhile. Nothing was changed: "
                "look again, then repeat.",
                number=current,
            )
            if current
            else _(
                "A report was changed by someone else meanwhile. Nothing was changed: "
                "look again, then repeat."
            ),
        ) from exc
    except InvalidInput as exc:
        effects.rollback()
        raise InvalidInput(
            exc.field,
            _("%(number)s: %(problem)s Nothing was changed.", number=current, problem=exc),
        ) from exc
    except NotAllowed as exc:
        effects.rollback()
        raise NotAllowed(
            _("%(number)s: %(problem)s Nothing was changed.", number=current, problem=exc)
        ) from exc
    return len(reports)
