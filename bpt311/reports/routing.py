"""Where a report goes once it is filed or re-routed: its category's send method, else its
department's default (none, email, or Open311 to an endpoint). Called inside the change's
own transaction; the sending itself is a job named here and run after commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from bpt311 import effects, i18n
from bpt311.extensions import db
from bpt311.models import Category, Department, OutboundRequest, Report
from bpt311.notify import enqueue_email, site_link

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    method: str  # none, email or open311
    endpoint_id: int | None = None
    inherited: bool = False  # the department's default


def department_route(department: Department) -> Route:
    """The default for a department's categories."""
    method, endpoint_id = department.send_method or "none", department.send_endpoint_id
    if method == "open311" and endpoint_id is None:
        method = "none"  # its endpoint was deleted
    return Route(method, endpoint_id if method == "open311" else None, inherited=True)


def route_of(category: Category, department: Department | None = None) -> Route:
    """How ``category``'s reports are sent on: its own choice, else the default of
    ``department`` (a report's, which staff may have changed; else the category's)."""
    if not category.send_method:
        return department_route(department or category.department)
    method, endpoint_id = category.send_method, category.send_endpoint_id
    if method == "open311" and endpoint_id is None:
        method = "none"  # its endpoint was deleted
    return Route(method, endpoint_id if method == "open311" else None)


def send_on(report: Report, new: bool) -> OutboundRequest | None:
    """What the report's route asks, in the caller's transaction: a row for the city system
    (once per endpoint: a report re-routed back is not sent twice), named for the job
    queue; for a ``new`` report routed by email, the department's email."""
    route = route_of(report.category, report.department)
    if route.method == "open311":
        already = db.session.scalar(
            select(OutboundRequest.id).where(
                OutboundRequest.report_id == report.id,
                OutboundRequest.endpoint_id == route.endpoint_id,
            )
        )
        if already is not None:
            return None
        row = OutboundRequest(report_id=report.id, endpoint_id=route.endpoint_id)
        db.session.add(row)
        effects.start_job("open311", row)  # a worker sends it once committed (or the sweep)
        return row
    if route.method == "email" and new:
        department = report.department
        if not department.email:
            log.warning("%s has no email address: report %s not emailed", department.name,
                        report.id)  # fmt: skip
            return None
        enqueue_email(
            department.email,
            "staff_new_report",
            _l("New report %(number)s", number=report.tracking_number),
            locale=i18n.DEFAULT,  # the department's own address: city staff read English
            report_id=report.id,
            report=report,
            inspector_url=site_link("staff.inspect", tracking_number=report.tracking_number),
        )
    return None
