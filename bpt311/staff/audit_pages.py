"""The audit log, read-only: who did what, to which report, and when.

Staff see the rows about their own department's reports (and its daily overdue email)
plus their own actions; admins see everything. A GET form filters by action, the actor's
email, tracking number and date range. Nothing here writes: the log has no route that
could change or remove a row, and a test keeps it so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import selectinload
from wtforms import Form, SelectField, StringField

from bpt311 import dates
from bpt311.access import staff_required
from bpt311.dates import DayField, city_midnight, date_problems
from bpt311.errors import partial_or_page, wants_partial
from bpt311.extensions import db
from bpt311.models import AuditLog, Department, Report, User, report_id_from_tracking_number
from bpt311.paging import Page, page_number, page_of
from bpt311.staff.views import bp

PAGE_SIZE = 50
MAX_PAGE = 2000


class AuditFilterForm(Form):
    """The GET form above the log; no CSRF (it changes nothing)."""

    action = SelectField(_l("Action"), validate_choice=False)
    actor = StringField(_l("Done by (email address, or part of it)"))
    tracking_number = StringField(_l("Tracking number"))
    date_from = DayField(_l("From"))
    date_to = DayField(_l("Until"))


@dataclass
class AuditFilters:
    action: str = ""
    actor: str = ""
    report_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1


def action_names() -> list[str]:
    return list(db.session.scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)))


def audit_filters(args) -> tuple[AuditFilterForm, AuditFilters, list[str]]:
    """The form bound to ``args``, what it asks for, and messages about what was left out."""
    form = AuditFilterForm(args)
    form.action.choices = [("", _("Every action")), *((name, name) for name in action_names())]
    form.validate()
    problems = date_problems(form)
    filters = AuditFilters(
        action=(form.action.data or "").strip()[:60],
        actor=(form.actor.data or "").strip()[:254],
        date_from=form.date_from.day,
        date_to=form.date_to.day,
    )
    number = (form.tracking_number.data or "").strip()
    if number:
        filters.report_id = report_id_from_tracking_number(number)
        if filters.report_id is None:
            form.tracking_number.errors = [_("Enter a tracking number like BPT-000123")]
            problems.append(_("Tracking number: enter one like BPT-000123"))
    filters.page = page_number(args.get("page"), MAX_PAGE)
    return form, filters, problems


def visible_to(user: User) -> Select:
    """The rows ``user`` may read: all for admins; for staff, their department's reports,
    its overdue emails, and whatever they did themselves."""
    query = select(AuditLog)
    if user.is_admin:
        return query
    department_reports = select(Report.id).where(Report.department_id == user.department_id)
    return query.where(
        or_(
            AuditLog.actor_id == user.id,
            AuditLog.report_id.in_(department_reports),
            and_(AuditLog.target_type == "department", AuditLog.target_id == user.department_id),
        )
    )


def filtered(user: User, filters: AuditFilters) -> Select:
    query = visible_to(user)
    if filters.action:
        query = query.where(AuditLog.action == filters.action)
    if filters.actor:
        query = query.where(
            AuditLog.actor_id.in_(
                select(User.id).where(User.email.icontains(filters.actor, autoescape=True))
            )
        )
    if filters.report_id is not None:
        query = query.where(AuditLog.report_id == filters.report_id)
    if filters.date_from:
        query = query.where(AuditLog.created_at >= city_midnight(filters.date_from))
    if filters.date_to:
        query = query.where(
            AuditLog.created_at < city_midnight(filters.date_to + timedelta(days=1))
        )
    return query


def audit_page(user: User, filters: AuditFilters) -> Page:
    """One page, newest first, in three queries whatever its length: the count, the rows
    and their actors."""
    query = filtered(user, filters).options(selectinload(AuditLog.actor))
    return page_of(
        query.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()),
        filters.page,
        PAGE_SIZE,
        deepest=MAX_PAGE,
    )


def department_names() -> dict[int, str]:
    return {row.id: row.name for row in db.session.execute(select(Department.id, Department.name))}


@bp.get("/audit")
@staff_required
def audit():
    form, filters, problems = audit_filters(request.args)
    if wants_partial() and (refused := dates.refusal(form)):
        return refused
    page = audit_page(current_user, filters)
    query_string = urlencode(
        [(k, v) for k, v in request.args.items(multi=True) if k != "page" and v != ""]
    )
    return partial_or_page(
        "staff/audit_results.html",
        "staff/audit.html",
        dates.status_for(form),
        form=form,
        filters=filters,
        problems=problems,
        page=page,
        departments=department_names(),
        query_string=query_string,
    )
