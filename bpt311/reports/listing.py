"""Every report in the open: the list, the map, neighbourhood pages and exports."""

from __future__ import annotations

import csv
import hashlib
import io
import json

from flask import Response, abort, current_app, render_template, request, stream_with_context
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bpt311.errors import error_response, wants_partial
from bpt311.extensions import db
from bpt311.models import Neighbourhood, Report
from bpt311.reports import browse, figures
from bpt311.reports.views import bp

MAP_CAP = 2000


def _with_vary(response: Response) -> Response:
    response.headers["Vary"] = "HX-Request"
    return response


def _query_string(without: tuple[str, ...] = ("page",)) -> str:
    from urllib.parse import urlencode

    pairs = [(k, v) for k, v in request.args.items(multi=True) if k not in without and v != ""]
    return urlencode(pairs)


def _results(template: str, **context):
    form, filters, problems = browse.filter_form(request.args)
    page = browse.page_of_reports(filters)
    context.update(
        form=form, filters=filters, problems=problems, page=page, query_string=_query_string()
    )
    if wants_partial():
        return _with_vary(Response(render_template("reports/_results.html", **context)))
    return _with_vary(Response(render_template(template, **context)))


@bp.get("/reports")
def index():
    return _results("reports/index.html")


@bp.get("/map")
def map_page():
    return _results("reports/map.html", geojson_query=_query_string())


@bp.get("/neighbourhoods")
def neighbourhoods():
    rows = db.session.execute(
        select(Neighbourhood.name, Neighbourhood.slug, func.count(Report.id))
        .outerjoin(
            Report, (Report.neighbourhood_id == Neighbourhood.id) & Report.status.in_(figures.OPEN)
        )
        .group_by(Neighbourhood.id)
        .order_by(Neighbourhood.name)
    ).all()
    return render_template("reports/neighbourhoods.html", rows=rows)


@bp.get("/neighbourhoods/<slug>")
def neighbourhood(slug: str):
    place = db.session.scalars(select(Neighbourhood).where(Neighbourhood.slug == slug)).first()
    if place is None:
        abort(404)
    args = request.args.copy()
    args["neighbourhood"] = slug
    form, filters, problems = browse.filter_form(args)
    page = browse.page_of_reports(filters)
    context = dict(
        form=form,
        filters=filters,
        problems=problems,
        page=page,
        place=place,
        query_string=_query_string(),
        figures=figures.neighbourhood_figures(place.id),
    )
    if wants_partial():
        return _with_vary(Response(render_template("reports/_results.html", **context)))
    return _with_vary(Response(render_template("reports/neighbourhood.html", **context)))


# ---- machine-readable: GeoJSON for the map and exports, CSV --------------------------


def _export_filters():
    _, filters, _ = browse.filter_form(request.args)
    if request.args.get("bbox"):
        try:
            filters.bbox = browse.parse_bbox(request.args["bbox"])
        except ValueError as exc:
            return None, error_response(400, str(exc))
    return filters, None


def _etag(filters: browse.Filters) -> str:
    """Changes whenever a matching report is added or changed: one aggregate query."""
    matching = (
        browse.filtered(filters).order_by(None).with_only_columns(Report.id, Report.updated_at)
    ).subquery()
    count, newest, last_id = db.session.execute(
        select(func.count(), func.max(matching.c.updated_at), func.max(matching.c.id))
    ).one()
    seed = f"{request.query_string.decode()}|{count}|{newest}|{last_id}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def _rows(filters: browse.Filters, limit: int | None):
    """Reports for an export, streamed from the database in batches."""
    query = browse.filtered(filters).options(
        selectinload(Report.category), selectinload(Report.neighbourhood)
    )
    if limit:
        query = query.limit(limit)
    yield from db.session.scalars(query.execution_options(yield_per=500))


def _public_url(report: Report) -> str:
    return f"{current_app.config['SITE_URL']}/reports/{report.tracking_number}"


def _feature(report: Report) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [report.longitude, report.latitude]},
        "properties": {
            "tracking_number": report.tracking_number,
            "category": report.category.name,
            "status": report.status,
            "status_label": report.status_label,
            "description": report.description,
            "address": report.address,
            "neighbourhood": report.neighbourhood.name if report.neighbourhood else "",
            "requested_at": report.created_at.isoformat(timespec="seconds"),
            "updated_at": report.updated_at.isoformat(timespec="seconds"),
            "votes": report.vote_count,
            "comments": report.comment_count,
            "url": _public_url(report),
        },
    }


@bp.get("/reports.geojson")
def geojson():
    """The filtered reports as GeoJSON: capped and cached for the map (with ``bbox``),
    complete and streamed as an export (without)."""
    filters, problem = _export_filters()
    if problem:
        return problem
    etag = _etag(filters)
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    limit = MAP_CAP if filters.bbox else None

    def generate():
        yield '{"type":"FeatureCollection","features":['
        for n, report in enumerate(_rows(filters, limit)):
            yield ("," if n else "") + json.dumps(_feature(report), ensure_ascii=False)
        yield "]}"

    response = Response(stream_with_context(generate()), mimetype="application/geo+json")
    response.headers["ETag"] = f'"{etag}"'
    response.headers["Cache-Control"] = "public, max-age=60"
    if not filters.bbox:
        response.headers["Content-Disposition"] = 'attachment; filename="bpt311-reports.geojson"'
    return response


CSV_COLUMNS = [
    "tracking_number",
    "category",
    "group",
    "status",
    "description",
    "address",
    "neighbourhood",
    "latitude",
    "longitude",
    "requested_at",
    "acknowledged_at",
    "closed_at",
    "votes",
    "comments",
    "url",
]


def spreadsheet_safe(value) -> str:
    """Text a spreadsheet will show, never run: a leading = + - @ tab or CR is defused."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_line(values) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([spreadsheet_safe(v) for v in values])
    return buffer.getvalue()


@bp.get("/reports.csv")
def csv_export():
    filters, problem = _export_filters()
    if problem:
        return problem

    def iso(moment):
        return moment.isoformat(timespec="seconds") if moment else ""

    def generate():
        yield _csv_line(CSV_COLUMNS)
        for report in _rows(filters, None):
            yield _csv_line(
                [
                    report.tracking_number,
                    report.category.name,
                    report.category.group,
                    report.status,
                    report.description,
                    report.address,
                    report.neighbourhood.name if report.neighbourhood else "",
                    report.latitude,
                    report.longitude,
                    iso(report.created_at),
                    iso(report.acknowledged_at),
                    iso(report.closed_at),
                    report.vote_count,
                    report.comment_count,
                    _public_url(report),
                ]
            )

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="bpt311-reports.csv"'
    return response
