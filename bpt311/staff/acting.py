"""What every staff action on a report shares: one transaction with one timeline event, one
audit row and the emails it causes; a form drawn from an older version of the report is
refused (:class:`StaleReport`) rather than allowed to overwrite someone else's change; only
staff of the report's department (admins all) may act. The actions are by concern:
:mod:`.status`, :mod:`.assignment`, :mod:`.duplicates`, :mod:`.details`, :mod:`.bulk`."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from bpt311 import effects, public_cache
from bpt311.access import may_act_on
from bpt311.community.texts import public_name
from bpt311.models import (
    Report,
    ResponseTemplate,
    TimelineEvent,
    User,
    utcnow,
)
from bpt311.problems import Conflict, InvalidInput, NotAllowed

NOTE_MAX = 4000
# What staff are told when a note is missing or too long, by field.
MISSING_TEXT = {
    "public_note": _l("Write a note for the public"),
    "description": _l("Write a description"),
}
TOO_LONG_TEXT = {
    "public_note": _l("Keep the note for the public to %(num)d characters or fewer", num=NOTE_MAX),
    "internal_note": _l("Keep the internal note to %(num)d characters or fewer", num=NOTE_MAX),
    "description": _l("Keep the description to %(num)d characters or fewer", num=NOTE_MAX),
}


class StaleReport(Conflict):
    def __init__(self):
        super().__init__(
            _(
                "Someone else changed this report while you were looking at it. Its new "
                "state is shown below; check it, then send your change again."
            )
        )


def checked_text(value: str | None, field: str, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(field, str(MISSING_TEXT[field]))
    if len(text) > NOTE_MAX:
        raise InvalidInput(field, str(TOO_LONG_TEXT[field]))
    return text


def check_may_change(report: Report, actor: User, version: int | None) -> None:
    if not may_act_on(actor, report):
        raise NotAllowed(_("This report belongs to another department."))
    if version is not None and report.version != version:
        raise StaleReport()


def add_event(
    report: Report, actor: User, kind: str, public_note: str = "", internal_note: str = ""
) -> TimelineEvent:
    event = TimelineEvent(
        kind=kind,
        actor=actor,
        actor_label=public_name(actor),
        public_note=public_note,
        internal_note=internal_note,
        created_at=utcnow(),
    )
    report.events.append(event)
    report.updated_at = event.created_at
    effects.after_commit(public_cache.changed, report.tracking_number)  # its page, at once
    return event


def commit_or_stale() -> None:
    try:
        effects.commit()
    except StaleDataError as exc:  # saved at the same moment as someone else
        effects.rollback()
        raise StaleReport() from exc


def fill_template(template: ResponseTemplate, report: Report) -> str:
    """A response template with its placeholders filled in for this report."""
    values = {
        "tracking_number": report.tracking_number,
        "category": report.category.name,
        "address": report.place_label,
        "department": report.department.name,
    }
    text = template.body
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text
