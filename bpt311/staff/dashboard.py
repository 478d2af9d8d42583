"""The staff dashboard (the public figures plus hidden reports and who has what on their
desk) and the staff exports: any queue filter as CSV or GeoJSON, private fields included."""

from __future__ import annotations

import json

from flask import Response, current_app, render_template, request, stream_with_context
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from bpt311 import dates
from bpt311.access import staff_required
from bpt311.extensions import db
from bpt311.models import Category, Department, Neighbourhood, Report, User
from bpt311.models.reports import REPORT_PLACE_COLUMNS, tracking_number_for
from bpt311.reports import browse
from bpt311.staff import forms, queries
from bpt311.staff.views import bp
from bpt311.stats import breakdowns, page
from bpt311.stats.views import figures_csv


@bp.get("/dashboard")
@staff_required
def dashboard():
    known = breakdowns.names()
    form, selection, problems = page.read_selection(request.args, known, public=False)
    numbers = breakdowns.dashboard(selection, known)
    # Staff see their own department's desks; an administrator the chosen one, or all.
    desk = selection.department_id if current_user.is_admin else current_user.department_id
    return render_template(
        "staff/dashboard.html",
        form=form,
        problems=problems,
        figures=numbers,
        charts=page.build_charts(numbers),
        csv_endpoint="staff.dashboard_csv",
        by_department=breakdowns.workload_by_department(selection, known),
        by_assignee=breakdowns.workload_by_assignee(selection, desk),
        desk=known.departments.get(desk) if desk else None,
    ), dates.status_for(form)


@bp.get("/dashboard/<table>.csv")
@staff_required
def dashboard_csv(table: str):
    return figures_csv(table, public=False)


# ---- exports of the queue --------------------------------------------------------------


def queue_selection(args) -> queries.QueueSelection:
    """The very reports the queue lists for these GET parameters (every page of them)."""
    return queries.queue_selection(args, forms.QueueForm(args), current_user)


EXPORT_COLUMNS = [
    "tracking_number",
    "status",
    "category",
    "group",
    "department",
    "assignee",
    "assignee_email",
    "description",
    "address",
    "neighbourhood",
    "latitude",
    "longitude",
    "requested_at",
    "acknowledged_at",
    "closed_at",
    "due_at",
    "source",
    "contact_name",
    "contact_email",
    "contact_phone",
    "anonymous",
    "reporter_email",
    "hidden_at",
    "hidden_reason",
    "votes",
    "comments",
    "url",
]


def _export_rows(selection: queries.QueueSelection):
    """The queue's reports as plain dicts of EXPORT_COLUMNS, streamed in batches."""
    query, filters = selection.query, selection.filters
    ids = query.with_only_columns(Report.id).subquery()
    assignee, reporter = aliased(User), aliased(User)
    rows = (
        select(
            *REPORT_PLACE_COLUMNS,
            Report.created_at,
            Report.acknowledged_at,
            Report.closed_at,
            Report.due_at,
            Report.source,
            Report.contact_name,
            Report.contact_email,
            Report.contact_phone,
            Report.anonymous,
            Report.hidden_at,
            Report.hidden_reason,
            Report.vote_count,
            Report.comment_count,
            Category.name.label("category"),
            Category.group.label("group"),
            Department.name.label("department"),
            Neighbourhood.name.label("neighbourhood"),
            assignee.display_name.label("staff_name"),
            assignee.email.label("staff_email"),
            reporter.email.label("account"),
        )
        .join(ids, ids.c.id == Report.id)
        .join(Category, Category.id == Report.category_id)
        .join(Department, Department.id == Report.department_id)
        .outerjoin(Neighbourhood, Neighbourhood.id == Report.neighbourhood_id)
        .outerjoin(assignee, assignee.id == Report.assignee_id)
        .outerjoin(reporter, reporter.id == Report.reporter_id)
        .order_by(*browse.ordering(filters))
        .execution_options(yield_per=1000)  # plain rows in batches: no ORM objects kept
    )
    site = current_app.config["SITE_URL"]
    for row in db.session.execute(rows):
        number = tracking_number_for(row.id)
        yield {
            "tracking_number": number,
            "status": row.status,
            "category": row.category,
            "group": row.group,
            "department": row.department,
            "assignee": (row.staff_name or row.staff_email) if row.staff_email else "",
            "assignee_email": row.staff_email or "",
            "description": row.description,
            "address": row.address,
            "neighbourhood": row.neighbourhood or "",
            "latitude": row.latitude,
            "longitude": row.longitude,
            "requested_at": _iso(row.created_at),
            "acknowledged_at": _iso(row.acknowledged_at),
            "closed_at": _iso(row.closed_at),
            "due_at": _iso(row.due_at),
            "source": row.source,
            "contact_name": row.contact_name,
            "contact_email": row.contact_email,
            "contact_phone": row.contact_phone,
            "anonymous": row.anonymous,
            "reporter_email": row.account or "",
            "hidden_at": _iso(row.hidden_at),
            "hidden_reason": row.hidden_reason,
            "votes": row.vote_count,
            "comments": row.comment_count,
            "url": f"{site}/staff/reports/{number}",
        }


def _iso(moment) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def _private(response: Response, filename: str) -> Response:
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"  # personal data
    return response


def _export(write, mimetype: str, filename: str) -> Response:
    """The queue the GET parameters select, streamed as ``write(rows)`` writes it, as a
    private attachment; or the page's answer to dates it refuses."""
    selection = queue_selection(request.args)
    if refused := dates.refusal(selection.filter_form):
        return refused
    rows = _export_rows(selection)
    return _private(Response(stream_with_context(write(rows)), mimetype=mimetype), filename)


@bp.get("/export.csv")
@staff_required
def export_csv():
    def table(rows):
        yield EXPORT_COLUMNS
        for row in rows:
            yield [row[name] for name in EXPORT_COLUMNS]

    return _export(lambda rows: page.csv_lines(table(rows)), "text/csv", "bpt311-queue.csv")


@bp.get("/export.geojson")
@staff_required
def export_geojson():
    def generate(rows):
        yield '{"type":"FeatureCollection","features":['
        for n, row in enumerate(rows):
            feature = {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row["longitude"], row["latitude"]]},
                "properties": {k: v for k, v in row.items() if k not in ("latitude", "longitude")},
            }
            yield ("," if n else "") + json.dumps(feature, ensure_ascii=False)
        yield "]}"

    return _export(generate, "application/geo+json", "bpt311-queue.geojson")
