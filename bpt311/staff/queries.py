"""What the back office reads: the queue with its counts, and one report in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import selectinload

from bpt311.extensions import db
from bpt311.models import (
    AuditLog,
    Category,
    Department,
    OutboundRequest,
    Report,
    ResponseTemplate,
    SavedFilter,
    TimelineEvent,
    User,
    utcnow,
)
from bpt311.reports import browse
from bpt311.reports.queries import report_numbered

OPEN = ("open", "acknowledged")


def scoped(query: Select, user: User, department_id: int | None = None) -> Select:
    """Staff see their own department's reports; admins all, or one they choose."""
    if not user.is_admin:
        return query.where(Report.department_id == user.department_id)
    if department_id:
        return query.where(Report.department_id == department_id)
    return query


@dataclass
class QueueSelection:
    """What the queue's GET parameters select: the query (every page) and the forms read."""

    query: Select
    filters: browse.Filters
    filter_form: object
    problems: dict
    department_id: int | None


QUEUE_STATUSES = ["open", "acknowledged"]  # what the queue shows unless told otherwise


def queue_selection(args, extra, user: User) -> QueueSelection:
    """The reports the queue lists for ``args`` (its query string), with ``extra`` its
    staff-only filter form (department, assignee, overdue, source) already bound to them.
    One reading for the queue page and its exports, so they can never disagree."""
    args = args.copy()
    if "status" not in args and not args.get("all"):
        args.setlist("status", list(QUEUE_STATUSES))  # the queue is about open work
    filter_form, filters, problems = browse.filter_form(args)
    department = extra.department.data or ""
    department_id = int(department) if department.isdigit() else None
    query = queue_query(
        filters,
        user,
        department_id,
        extra.assignee.data or "",
        bool(extra.overdue.data),
        extra.source.data or "",
    )
    return QueueSelection(query, filters, filter_form, problems, department_id)


def queue_query(
    filters: browse.Filters,
    user: User,
    department_id: int | None,
    assignee: str,
    overdue: bool,
    source: str,
) -> Select:
    query = scoped(browse.filtered(filters, include_hidden=True), user, department_id)
    if assignee == "me":
        query = query.where(Report.assignee_id == user.id)
    elif assignee == "none":
        query = query.where(Report.assignee_id.is_(None))
    elif assignee.isdigit():
        query = query.where(Report.assignee_id == int(assignee))
    if overdue:
        query = query.where(Report.status.in_(OPEN), Report.due_at < utcnow())
    if source:
        query = query.where(Report.source == source)
    return query.options(selectinload(Report.assignee))


def queue_counts(user: User, department_id: int | None) -> dict[str, int]:
    """Open, acknowledged, overdue and closed this week: one query."""
    now = utcnow()
    query = scoped(
        select(
            func.count(case((Report.status == "open", 1))),
            func.count(case((Report.status == "acknowledged", 1))),
            func.count(case(((Report.status.in_(OPEN)) & (Report.due_at < now), 1))),
            func.count(case((Report.closed_at >= now - timedelta(days=7), 1))),
        ),
        user,
        department_id,
    )
    opened, acknowledged, overdue, closed = db.session.execute(query).one()
    return {"open": opened, "acknowledged": acknowledged, "overdue": overdue, "closed_week": closed}


def colleagues(department_id: int | None) -> list[User]:
    return db.session.scalars(
        select(User)
        .where(User.department_id == department_id, User.role.in_(("staff", "admin")), User.active)
        .order_by(User.display_name, User.email)
    ).all()


def departments() -> list[Department]:
    return db.session.scalars(select(Department).order_by(Department.name)).all()


def active_categories() -> list[Category]:
    return db.session.scalars(
        select(Category).where(Category.active).order_by(Category.position)
    ).all()


def saved_filters(user: User) -> list[SavedFilter]:
    return db.session.scalars(
        select(SavedFilter).where(SavedFilter.user_id == user.id).order_by(SavedFilter.name)
    ).all()


def templates_for(report: Report) -> list[ResponseTemplate]:
    return db.session.scalars(
        select(ResponseTemplate)
        .where(
            (ResponseTemplate.department_id == report.department_id)
            | ResponseTemplate.department_id.is_(None)
        )
        .order_by(ResponseTemplate.status, ResponseTemplate.title)
    ).all()


def full_report(tracking_number: str) -> Report | None:
    """A report with everything the inspector shows, internal notes included."""

    return report_numbered(
        tracking_number,
        selectinload(Report.category).selectinload(Category.questions),
        selectinload(Report.department),
        selectinload(Report.neighbourhood),
        selectinload(Report.media),
        selectinload(Report.events).selectinload(TimelineEvent.actor),
        selectinload(Report.events).selectinload(TimelineEvent.comment),
        selectinload(Report.reporter),
        selectinload(Report.assignee),
        selectinload(Report.duplicate_of),
    )


def sent_on(report: Report) -> list[OutboundRequest]:
    """Where the report was sent on (Open311), with the city system's id and when."""
    return db.session.scalars(
        select(OutboundRequest)
        .where(OutboundRequest.report_id == report.id)
        .options(selectinload(OutboundRequest.endpoint))
        .order_by(OutboundRequest.id)
    ).all()


def audit_trail(report: Report) -> list[AuditLog]:
    return db.session.scalars(
        select(AuditLog)
        .where(AuditLog.report_id == report.id)
        .options(selectinload(AuditLog.actor))
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    ).all()
