"""Jobs cron runs for the back office: archiving long-closed reports, and telling each
department every morning which of its reports are past their expected response time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from flask import current_app
from flask_babel import LazyString, format_date, ngettext
from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.orm import selectinload

from bpt311 import effects, i18n, public_cache
from bpt311.audit import record
from bpt311.extensions import db
from bpt311.models import AuditLog, Department, Report, TimelineEvent, utcnow
from bpt311.models.base import UTCDateTime
from bpt311.notify import enqueue_email, site_link
from bpt311.reports import daily, lifecycle
from bpt311.site import city_zone

log = logging.getLogger(__name__)

CITY_LABEL = "City of Bridgeport"
ARCHIVE_BATCH = 1000
OPEN = ("open", "acknowledged")
OVERDUE_EMAIL = "overdue_email"  # the audit action that records a department's daily email
OVERDUE_LIST_MAX = 200  # rows in one email; the rest are counted and left to the queue


# ---- archiving ---------------------------------------------------------------------------


def archive_closed(days: int, now: datetime | None = None, batch_size: int = ARCHIVE_BATCH) -> int:
    """Move reports closed more than ``days`` ago to "archived"; returns how many moved.

    Batches of ``batch_size``, each one transaction: an UPDATE that returns the ids it
    changed, their "archived" timeline events in one INSERT, and one audit row. A report
    is never loaded as an object, so 100,000 of them take seconds and little memory.
    Running it again finds nothing to do. Watchers are not told (``announce``): closed to
    archived is bookkeeping, and a first run could otherwise mail thousands of notices.
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    note = f"Archived: closed more than {days} days ago."
    total, after = 0, 0
    in_source_status, archived = lifecycle.bulk("archive", now)
    while True:
        eligible = (in_source_status, Report.closed_at < cutoff)
        # Keyset on the primary key: each batch starts where the last ended, so no batch
        # scans the rows the ones before it already passed over.
        batch = (
            select(Report.id)
            .where(Report.id > after, *eligible)
            .order_by(Report.id)
            .limit(batch_size)
        )
        # The map's summary counts reports by status: their cells are counted again.
        daily.touch_cells_where(Report.id.in_(batch), *eligible)
        # The conditions are repeated outside the subquery so that, on PostgreSQL, a row
        # another run archived meanwhile is re-checked after its lock and skipped.
        ids = db.session.scalars(
            update(Report)
            .where(Report.id.in_(batch), *eligible)
            .values(**archived, version=Report.version + 1)
            .returning(Report.id)
            .execution_options(synchronize_session=False)
        ).all()
        if not ids:
            effects.rollback()
            return total
        db.session.execute(
            insert(TimelineEvent).from_select(
                ["report_id", "kind", "actor_label", "public_note", "internal_note", "created_at"],
                select(
                    Report.id,
                    literal("archived"),
                    literal(CITY_LABEL),
                    literal(note),
                    literal(""),
                    literal(now, UTCDateTime()),
                ).where(Report.id.in_(ids)),
            )
        )
        row = record(
            None, "archive", count=len(ids), days=days, first_id=min(ids), last_id=max(ids)
        )
        row.created_at = now
        effects.after_commit(public_cache.changed)  # archived reports leave the lists
        effects.commit()
        total += len(ids)
        after = max(ids)


# ---- the daily overdue email ----------------------------------------------------------------


@dataclass
class OverdueRun:
    sent: int = 0  # departments whose email was queued now
    already_sent: int = 0  # departments that had today's email already
    no_address: int = 0  # departments with overdue reports but no email address


def city_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first moment of ``day`` on the city's clocks and of the day after, as aware
    datetimes: 23 or 25 hours apart when the clocks change."""
    zone = city_zone()
    return (
        datetime.combine(day, time.min, tzinfo=zone),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
    )


def send_overdue_emails(now: datetime | None = None) -> OverdueRun:
    """Queue one email per department listing its open or acknowledged reports whose
    ``due_at`` has passed. Departments with none get nothing.

    Once per city day: each email is recorded by an audit row (action
    ``overdue_email``, target the department, ``detail.date`` the city date) in the same
    transaction as the email, and a department with such a row since the city's
    midnight is skipped. On PostgreSQL the department row is locked while deciding, so
    two runs at once still send one email.
    """
    now = now or utcnow()
    day = now.astimezone(city_zone()).date()
    day_start, day_end = city_day_bounds(day)
    overdue = (Report.status.in_(OPEN), Report.due_at < now)
    counts = db.session.execute(
        select(Report.department_id, func.count(Report.id))
        .where(*overdue)
        .group_by(Report.department_id)
        .order_by(Report.department_id)
    ).all()
    effects.rollback()
    run = OverdueRun()
    for department_id, _ in counts:
        department = db.session.scalars(
            select(Department).where(Department.id == department_id).with_for_update()
        ).one()
        if not department.email:
            log.warning("%s has overdue reports but no email address", department.name)
            run.no_address += 1
            effects.rollback()
            continue
        already = db.session.scalar(
            select(AuditLog.id)
            .where(
                AuditLog.action == OVERDUE_EMAIL,
                AuditLog.target_type == "department",
                AuditLog.target_id == department.id,
                AuditLog.created_at >= day_start,
                AuditLog.created_at < day_end,
            )
            .limit(1)
        )
        if already is not None:
            run.already_sent += 1
            effects.rollback()
            continue
        _queue_overdue_email(department, now, day, overdue)
        effects.commit()
        run.sent += 1
    return run


def _overdue_subject(count: int, department_name: str, day: date) -> str:
    """Called when the email is written, in its recipient's language."""
    return ngettext(
        "%(num)d overdue report for %(department)s, %(date)s",
        "%(num)d overdue reports for %(department)s, %(date)s",
        count,
        department=department_name,
        date=format_date(day, "long"),
    )


def _queue_overdue_email(department: Department, now: datetime, day: date, overdue) -> None:
    where = (Report.department_id == department.id, *overdue)
    count = db.session.scalar(select(func.count(Report.id)).where(*where))
    reports = db.session.scalars(
        select(Report)
        .where(*where)
        .options(selectinload(Report.category), selectinload(Report.neighbourhood))
        .order_by(Report.due_at, Report.id)
        .limit(OVERDUE_LIST_MAX)
    ).all()
    # The back office's report page where there is one; the public page otherwise.
    endpoint = "staff.inspect" if "staff.inspect" in current_app.view_functions else None
    rows = [
        {
            "report": report,
            "late": now - report.due_at,
            "url": site_link(
                endpoint or "community.report", tracking_number=report.tracking_number
            ),
        }
        for report in reports
    ]
    queue_url = site_link("staff.queue") if "staff.queue" in current_app.view_functions else ""
    enqueue_email(
        department.email,
        "staff_overdue",
        LazyString(_overdue_subject, count, department.name, day),
        locale=i18n.DEFAULT,  # the department's own address: city staff read English
        department=department,
        rows=rows,
        count=count,
        more=count - len(rows),
        date_words=LazyString(format_date, day, "long"),  # "November 25, 2026"
        queue_url=queue_url,
    )
    row = record(
        None,
        OVERDUE_EMAIL,
        target_type="department",
        target_id=department.id,
        date=day.isoformat(),
        count=count,
        recipient=department.email,
    )
    row.created_at = now
