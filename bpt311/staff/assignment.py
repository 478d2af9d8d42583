"""Who has a report and by when: the assignee, the department, the due date, and the
category (which may send it on to the city's work-order system)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from bpt311 import dates, i18n
from bpt311.audit import record
from bpt311.community.following import tell_followers
from bpt311.community.texts import public_name
from bpt311.extensions import db
from bpt311.models import (
    Category,
    Department,
    Report,
    User,
)
from bpt311.notify import enqueue_email, site_link
from bpt311.problems import InvalidInput
from bpt311.reports import daily
from bpt311.reports.routing import send_on
from bpt311.staff.acting import (
    add_event,
    check_may_change,
    checked_text,
    commit_or_stale,
)
from bpt311.watchers.events import announce


def assign(
    report: Report, actor: User, version: int | None, assignee_id: int | None, commit: bool = True
) -> None:
    check_may_change(report, actor, version)
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
    add_event(
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
        commit_or_stale()


def reassign_department(
    report: Report, actor: User, version: int | None, department_id: int, internal_note: str = ""
) -> None:
    check_may_change(report, actor, version)
    department = db.session.get(Department, department_id)
    if department is None:
        raise InvalidInput("department", _("Choose a department"))
    if department.id == report.department_id:
        raise InvalidInput("department", _("It is already with that department"))
    note = checked_text(internal_note, "internal_note")
    old = report.department.name
    report.department, report.assignee = department, None
    daily.touch(report)  # the figures by department count it with its new one
    add_event(
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
    commit_or_stale()


def set_due(report: Report, actor: User, version: int | None, due_local: str) -> None:
    """A new due date and time, typed in the city's own clock time."""
    check_may_change(report, actor, version)
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
    add_event(report, actor, "note", internal_note=f"Due date set to {moment.isoformat()}")
    record(
        actor,
        "set_due",
        report,
        due=moment.isoformat(),
        previous=previous.isoformat() if previous else "",
    )
    commit_or_stale()


def recategorise(
    report: Report, actor: User, version: int | None, service_code: str, commit: bool = True
) -> None:
    check_may_change(report, actor, version)
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
    add_event(report, actor, "recategorised", public_note=f"Changed from {old} to {category.name}")
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
        commit_or_stale()
