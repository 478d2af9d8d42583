"""What staff do to a report. Each action is one transaction with one timeline event, one
audit row and the emails it causes; a form drawn from an older version of the report is
refused rather than allowed to overwrite someone else's change."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, literal, select, update
from sqlalchemy.orm.exc import StaleDataError

from bpt311 import dates, effects, i18n, public_cache, storage
from bpt311.access import may_act_on
from bpt311.audit import record
from bpt311.community.service import public_name, tell_followers
from bpt311.extensions import db
from bpt311.models import (
    Category,
    Department,
    Follow,
    Media,
    Report,
    ResponseTemplate,
    TimelineEvent,
    User,
    Vote,
    report_id_from_tracking_number,
    utcnow,
)
from bpt311.notify import enqueue_email, site_link
from bpt311.outbound311.routing import send_on
from bpt311.problems import Conflict, InvalidInput, NotAllowed
from bpt311.reports import daily, lifecycle
from bpt311.watch.events import announce

NOTE_MAX = 4000
STATUS_ACTIONS = {
    "acknowledge": _l("Acknowledge"),
    "close": _l("Close"),
    "reopen": _l("Reopen"),
    "note": _l("Add a note only"),
}
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


def _text(value: str | None, field: str, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(field, str(MISSING_TEXT[field]))
    if len(text) > NOTE_MAX:
        raise InvalidInput(field, str(TOO_LONG_TEXT[field]))
    return text


def _check(report: Report, actor: User, version: int | None) -> None:
    if not may_act_on(actor, report):
        raise NotAllowed(_("This report belongs to another department."))
    if version is not None and report.version != version:
        raise StaleReport()


def _event(
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


def _commit() -> None:
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


# ---- status -------------------------------------------------------------------------------


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
    _check(report, actor, version)
    if action not in STATUS_ACTIONS:
        raise InvalidInput("action", _("Choose what to do"))
    public = _text(public_note, "public_note", required=action == "close")
    internal = _text(internal_note, "internal_note")
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
    _event(report, actor, kind, public, internal)
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
        _commit()


def _attach_after_photo(report: Report, photo) -> None:
    from bpt311.reports.service import place_stashed

    name, thumb = place_stashed(photo)
    media = Media(
        kind="photo",
        file_name=name,
        thumb_name=thumb,
        content_type=photo.content_type,
        size_bytes=photo.size,
        width=photo.width,
        height=photo.height,
        alt_text=f"Photo after the work on the {report.category.name}",
        position=50,
    )
    storage.prepare_new_media(media)
    report.media.append(media)


# ---- assignment, department, due date, category -------------------------------------------


def assign(
    report: Report, actor: User, version: int | None, assignee_id: int | None, commit: bool = True
) -> None:
    _check(report, actor, version)
    assignee = db.session.get(User, assignee_id) if assignee_id else None
    if assignee_id and (
        assignee is None
        or not assignee.is_staff
        or not assignee.active
        or assignee.department_id != report.department_id
    ):
        raise InvalidInput("assignee", _("Choose someone from this report’s department"))
    previous = report.assignee
    report.assignee = assignee
    _event(
        report,
        actor,
        "assigned",
        internal_note=f"Assigned to {assignee.display_name or assignee.email}"
        if assignee
        else "Unassigned",
    )
    record(
        actor,
        "assign",
        report,
        assignee=assignee.email if assignee else "",
        previous=previous.email if previous else "",
    )
    if assignee and assignee.id != actor.id:
        enqueue_email(
            assignee.email,
            "staff_assigned",
            _l("%(number)s is assigned to you", number=report.tracking_number),
            locale=assignee.locale,
            report_id=report.id,
            report=report,
            by=public_name(actor),
            inspector_url=site_link("staff.inspect", tracking_number=report.tracking_number),
        )
    if commit:
        _commit()


def reassign_department(
    report: Report, actor: User, version: int | None, department_id: int, internal_note: str = ""
) -> None:
    _check(report, actor, version)
    department = db.session.get(Department, department_id)
    if department is None:
        raise InvalidInput("department", _("Choose a department"))
    if department.id == report.department_id:
        raise InvalidInput("department", _("It is already with that department"))
    note = _text(internal_note, "internal_note")
    old = report.department.name
    report.department, report.assignee = department, None
    daily.touch(report)  # the figures by department count it with its new one
    _event(
        report, actor, "assigned", public_note=f"Passed to {department.name}", internal_note=note
    )
    record(actor, "reassign_department", report, department=department.name, previous=old)
    send_on(report, new=False)  # sent on if the new department's route says so
    if department.email:
        enqueue_email(
            department.email,
            "staff_assigned",
            _l(
                "%(number)s was passed to %(department)s",
                number=report.tracking_number,
                department=department.name,
            ),
            locale=i18n.DEFAULT,  # the department's own address: city staff read English
            report_id=report.id,
            report=report,
            by=public_name(actor),
            inspector_url=site_link("staff.inspect", tracking_number=report.tracking_number),
        )
    _commit()


def set_due(report: Report, actor: User, version: int | None, due_local: str) -> None:
    """A new due date and time, typed in the city's own clock time."""
    _check(report, actor, version)
    try:
        moment = datetime.fromisoformat((due_local or "").strip())
    except ValueError as exc:
        raise InvalidInput("due", _("Enter a date and time like 2026-12-01 17:00")) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(current_app.config["CITY_TIMEZONE"]))
    if not dates.EARLIEST <= moment.date() <= dates.latest():  # 9999-12-31T23:59 overflows UTC
        raise InvalidInput(
            "due",
            _(
                "Enter a date and time from %(earliest)s to %(latest)s",
                earliest=dates.EARLIEST.isoformat(),
                latest=dates.latest().isoformat(),
            ),
        )
    previous = report.due_at
    report.due_at = moment
    daily.touch(report)  # closed within its SLA or not may change
    _event(report, actor, "note", internal_note=f"Due date set to {moment.isoformat()}")
    record(
        actor,
        "set_due",
        report,
        due=moment.isoformat(),
        previous=previous.isoformat() if previous else "",
    )
    _commit()


def recategorise(
    report: Report, actor: User, version: int | None, service_code: str, commit: bool = True
) -> None:
    _check(report, actor, version)
    category = db.session.scalars(
        select(Category).where(Category.service_code == service_code, Category.active)
    ).one_or_none()
    if category is None:
        raise InvalidInput("category", _("Choose a category from the list"))
    if category.id == report.category_id:
        raise InvalidInput("category", _("It is already in that category"))
    previous = report.category
    old = previous.name
    report.category = category
    report.due_at = report.created_at + timedelta(hours=category.sla_hours)
    moved = category.department_id != report.department_id
    if moved:
        report.department, report.assignee = category.department, None
    daily.touch(report)  # its days count it under the new category (and department)
    _event(report, actor, "recategorised", public_note=f"Changed from {old} to {category.name}")
    record(actor, "recategorise", report, category=category.service_code, previous=old)
    send_on(report, new=False)  # sent on if the new category's route says so
    # Lazy: each follower's email is written in their own language.
    tell_followers(
        report,
        _l("Now filed as %(category)s", category=LazyString(i18n.translated, category, "name")),
        _l("It was filed as %(category)s.", category=LazyString(i18n.translated, previous, "name")),
        actor=actor,
    )
    announce(report, "status", actor=actor)
    if commit:
        _commit()


# ---- duplicates -------------------------------------------------------------------------


def mark_duplicate(
    report: Report, actor: User, version: int | None, original_number: str
) -> Report:
    """Close ``report`` as the same problem as another; its followers and votes move over."""
    _check(report, actor, version)
    original_id = report_id_from_tracking_number(original_number or "")
    original = db.session.get(Report, original_id) if original_id else None
    if original is None:
        raise InvalidInput("original", _("No report has that tracking number"))
    if original.id == report.id:
        raise InvalidInput("original", _("A report cannot be a duplicate of itself"))
    if original.duplicate_of_id:
        raise InvalidInput(
            "original",
            _(
                "%(number)s is itself a duplicate: choose the report it points to",
                number=original.tracking_number,
            ),
        )
    now = utcnow()
    try:  # first, so a refusal leaves the followers and votes where they were
        lifecycle.move(report, "merge", lifecycle.STAFF, now)
    except lifecycle.MoveRefused as exc:
        raise InvalidInput("original", str(exc)) from exc
    # Followers and votes move: inserted where the person has none on the original, then
    # removed here, so each counts exactly once.
    db.session.execute(
        insert(Follow).from_select(
            ["report_id", "user_id", "created_at"],
            select(literal(original.id), Follow.user_id, Follow.created_at)
            .where(Follow.report_id == report.id)
            .where(
                ~Follow.user_id.in_(select(Follow.user_id).where(Follow.report_id == original.id))
            ),
        )
    )

    moved_votes = len(
        db.session.scalars(
            insert(Vote)
            .from_select(
                ["report_id", "user_id", "created_at"],
                select(literal(original.id), Vote.user_id, Vote.created_at)
                .where(Vote.report_id == report.id)
                .where(
                    ~Vote.user_id.in_(select(Vote.user_id).where(Vote.report_id == original.id))
                ),
            )
            .returning(Vote.id)
        ).all()
    )
    db.session.execute(delete(Vote).where(Vote.report_id == report.id))
    db.session.execute(delete(Follow).where(Follow.report_id == report.id))
    # The counter moves by the rows just inserted, in one statement: a vote someone adds
    # to the original meanwhile is not overwritten by a figure read earlier.
    db.session.execute(
        update(Report)
        .where(Report.id == original.id)
        .values(vote_count=Report.vote_count + moved_votes)
        .execution_options(synchronize_session=False)
    )
    report.vote_count = 0
    report.duplicate_of = original
    _event(
        report,
        actor,
        "duplicate",
        public_note=f"The same problem as {original.tracking_number}: follow that report.",
    )
    _event(
        original,
        actor,
        "note",
        public_note=f"{report.tracking_number} was the same "
        "problem and has been merged into this one.",
    )
    record(
        actor, "mark_duplicate", report, original=original.tracking_number, moved_votes=moved_votes
    )
    tell_followers(
        report,
        _l("Merged into %(number)s", number=original.tracking_number),
        _l("Follow the original report for updates."),
        actor=actor,
    )
    announce(report, "status", actor=actor)
    _commit()
    return original


# ---- details ------------------------------------------------------------------------------


def edit_details(
    report: Report,
    actor: User,
    version: int | None,
    description: str,
    address: str,
    latitude: str,
    longitude: str,
) -> None:
    from bpt311.reports.service import DESCRIPTION_MIN, InvalidReport, check_location

    _check(report, actor, version)
    text = _text(description, "description", required=True)
    if len(text) < DESCRIPTION_MIN:
        raise InvalidInput(
            "description",
            _("Describe it in at least %(num)d characters", num=DESCRIPTION_MIN),
        )
    if not report.has_point and not (latitude or "").strip() and not (longitude or "").strip():
        _keep_waiting_for_a_point(report, actor, text, address)
        return
    try:
        lat, lon = check_location(float(latitude), float(longitude))
    except ValueError as exc:
        raise InvalidInput("latitude", _("Latitude and longitude must be numbers")) from exc
    except InvalidReport as exc:
        raise InvalidInput("latitude", next(iter(exc.errors.values()))) from exc
    before = {
        "description": report.description,
        "address": report.address,
        "latitude": report.latitude,
        "longitude": report.longitude,
    }
    report.description, report.address = text, " ".join((address or "").split())[:300]
    placed = not report.has_point  # sent with its address alone: staff place it now
    moved = (lat, lon) != (report.latitude, report.longitude)
    report.latitude, report.longitude = lat, lon
    if moved:
        from bpt311.reports.service import neighbourhood_at

        report.neighbourhood_id = neighbourhood_at(lat, lon)
        daily.touch(report)
    if placed or report.address:
        report.location_pending = False  # nothing left for the geocoding job to do
    _event(report, actor, "edited", public_note="The city corrected the details.")
    if placed:
        db.session.flush()
        announce(report, "new", actor=actor)  # watch areas match it now it has a point
    # The original text is kept here, in the audit trail.
    record(
        actor,
        "edit_details",
        report,
        before=before,
        after={"description": text, "address": report.address, "latitude": lat, "longitude": lon},
    )
    _commit()


def _keep_waiting_for_a_point(report: Report, actor: User, text: str, address: str) -> None:
    """Details corrected for a report not placed yet, still without a point: a changed
    address is geocoded afresh by the job (bpt311.reports.locating)."""
    address = " ".join((address or "").split())[:300]
    if not address:
        raise InvalidInput("address", _("Give the address, or the latitude and longitude"))
    before = {"description": report.description, "address": report.address}
    if address != report.address:
        report.location_attempts, report.location_retry_at = 0, None
    report.description, report.address, report.location_pending = text, address, True
    _event(report, actor, "edited", public_note="The city corrected the details.")
    record(
        actor,
        "edit_details",
        report,
        before=before,
        after={"description": text, "address": address},
    )
    _commit()


# ---- many at once ------------------------------------------------------------------------

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
        _commit()
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
