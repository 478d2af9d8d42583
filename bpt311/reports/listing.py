"""Every report in the open: the list, the map, neighbourhood pages and exports."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import replace
from urllib.parse import urlencode

from flask import (
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy import func, select

from bpt311 import dates
from bpt311.errors import error_response, go_to, partial_or_page, varies_on_htmx, wants_partial
from bpt311.extensions import db, limiter
from bpt311.models import Category, Neighbourhood, Report
from bpt311.models.reports import REPORT_PLACE_COLUMNS, STATUS_NAMES, tracking_number_for
from bpt311.ops import replica
from bpt311.reports import browse, clusters, figures, here, list_pages, queries
from bpt311.reports.views import bp
from bpt311.spreadsheets import csv_line

MAP_CAP = 2000
_FILTER_FORMS_LOCK = threading.Lock()  # filter_form_html's kept forms


@bp.app_template_global()
def filter_form_html(form, filters, problems, action=None, hide_neighbourhood=False) -> Markup:
    """templates/reports/_filters.html for this form. It is the same for everyone who asks
    with the same filters in the same language, so while nothing is wrong with them it is
    rendered once and kept with the choices it shows (``browse.filter_choices``, read
    again after FILTER_CHOICES_SECONDS or a catalogue change): it was a third of a list
    page's rendering. A typed place (geocoded) or a refused value is rendered each time."""

    def render() -> Markup:
        return Markup(
            render_template(
                "reports/_filters.html",
                form=form,
                filters=filters,
                problems=problems,
                action=action,
                hide_neighbourhood=hide_neighbourhood,
            )
        )

    if problems or form.errors or filters.near:
        return render()
    kept = browse.filter_choices().rendered
    key = (
        action,
        bool(hide_neighbourhood),
        repr(replace(filters, page=1)),
        tuple((field.name, tuple(field.raw_data or ())) for field in form),
    )
    with _FILTER_FORMS_LOCK:
        html = kept.get(key)
    if html is None:
        html = render()
        with _FILTER_FORMS_LOCK:
            kept[key] = html
    return html


def _query_string(without: tuple[str, ...] = ("page",)) -> str:
    pairs = [(k, v) for k, v in request.args.items(multi=True) if k not in without and v != ""]
    return urlencode(pairs)


def _typed_report() -> Report | None:
    """The report a tracking number typed in the search or the address box names."""
    for typed in (request.args.get("q", ""), request.args.get("near", "")):
        report = queries.report_typed(typed[:40])
        if report is not None:
            return report
    return None


def _results(template: str, **context):
    # A tracking number goes straight to its report; the live search (HTMX, sent while the
    # person may still be typing "302") shows a link to it on top of the results instead.
    typed_report = _typed_report()
    if typed_report is not None and not wants_partial():
        return go_to(url_for("community.report", tracking_number=typed_report.tracking_number))
    context["typed_report"] = typed_report
    form, filters, problems = browse.filter_form(request.args)
    if wants_partial() and (refused := dates.refusal(form)):
        return refused  # already varies on HX-Request and Accept
    page = list_pages.page_of_reports(filters)
    context.update(
        form=form, filters=filters, problems=problems, page=page, query_string=_query_string()
    )
    if wants_partial():
        return varies_on_htmx(render_template("reports/_results.html", **context))
    return varies_on_htmx((render_template(template, **context), dates.status_for(form)))


@bp.get("/reports")
@limiter.limit("120/minute", exempt_when=lambda: not request.args.get("q"))  # typing: 2/s
def index():
    return _results("reports/index.html")


@bp.get("/map")
def map_page():
    return _results("reports/map.html", geojson_query=_query_string())


def _point_from_query() -> here.PlaceInWords:
    return here.describe_point(
        browse.finite_number(request.args.get("lat")),
        browse.finite_number(request.args.get("lon")),
    )


@bp.get("/reports/here")
@limiter.limit("30/minute")  # each new point may cost a call to the geocoder
def place_here():
    """The reports near a point and the way on to report there: a page of its own (no
    JavaScript needed), and the panel beside /map's pin for an HTMX request."""
    place = _point_from_query()
    nearby = None if place.problem else here.reports_near(place)
    if place.problem:
        announce = place.problem
    else:
        announce = " ".join(
            (
                _("Pin placed: %(place)s.", place=place.label),
                ngettext("%(num)d report near here.", "%(num)d reports near here.", nearby.total),
            )
        )
    status = 422 if place.problem and not wants_partial() else None
    return partial_or_page(
        "reports/_here.html",
        "reports/here.html",
        status,
        place=place,
        nearby=nearby,
        shown=here.SHOWN,
        near_metres=here.NEAR_METRES,
        announce=announce,
    )


@bp.get("/reports/here.json")
@limiter.limit("30/minute")
def place_here_json():
    """The words for a pin just placed on the report form, for its live status line."""
    place = _point_from_query()
    return jsonify(
        latitude=place.latitude,
        longitude=place.longitude,
        address=place.address,
        label=place.label,
        problem=place.problem,
    )


@bp.get("/neighbourhoods")
def neighbourhoods():
    reads = replica.reader()
    rows = reads.execute(
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
    if wants_partial() and (refused := dates.refusal(form)):
        return refused  # already varies on HX-Request and Accept
    page = list_pages.page_of_reports(filters)
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
        return varies_on_htmx(render_template("reports/_results.html", **context))
    return varies_on_htmx(
        (render_template("reports/neighbourhood.html", **context), dates.status_for(form))
    )


# ---- machine-readable: GeoJSON for the map and exports, CSV --------------------------


def _export_filters():
    form, filters, _ = browse.filter_form(request.args)
    if refused := dates.refusal(form):
        return None, refused
    if request.args.get("bbox"):
        try:
            filters.bbox = browse.parse_bbox(request.args["bbox"])
        except ValueError as exc:
            return None, error_response(400, str(exc))
    return filters, None


def _etag() -> str:
    """Changes whenever any report is added or changed: two index lookups, whatever the
    filter (coarser than the filter itself, so a change elsewhere also renews it). Two
    scalar subqueries, because SQLite reads max() from an index only when it is the
    query's one aggregate (both in one SELECT scanned the whole index: 80 ms at 100,000)."""
    reads = replica.reader()
    newest, last_id = reads.execute(
        select(
            select(func.max(Report.updated_at)).scalar_subquery(),
            select(func.max(Report.id)).scalar_subquery(),
        )
    ).one()
    seed = f"{request.query_string.decode()}|{newest}|{last_id}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def _rows(filters: browse.Filters, limit: int | None, on_the_map: bool = False):
    """The public fields of matching reports as plain rows (no ORM objects), streamed from
    the database in batches: cheap enough for a map of thousands or an export of all.
    ``on_the_map`` leaves out reports whose location is still to be confirmed (no point)."""
    matching = browse.filtered(filters)
    if on_the_map:
        matching = matching.where(Report.latitude.is_not(None), Report.longitude.is_not(None))
    if limit:
        matching = matching.limit(limit)
    ids = matching.with_only_columns(Report.id).subquery()
    query = (
        select(
            *REPORT_PLACE_COLUMNS,
            Report.created_at,
            Report.updated_at,
            Report.acknowledged_at,
            Report.closed_at,
            Report.vote_count,
            Report.comment_count,
            Category.name.label("category"),
            Category.group.label("group"),
            Neighbourhood.name.label("neighbourhood"),
        )
        .join(ids, ids.c.id == Report.id)
        .join(Category, Category.id == Report.category_id)
        .outerjoin(Neighbourhood, Neighbourhood.id == Report.neighbourhood_id)
        .order_by(*browse.ordering(filters))
    )
    yield from replica.reader().execute(query.execution_options(yield_per=1000))


def _public_url(report_id: int) -> str:
    return f"{current_app.config['SITE_URL']}/reports/{tracking_number_for(report_id)}"


def _iso(moment) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def _feature(row) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [row.longitude, row.latitude]},
        "properties": {
            "tracking_number": tracking_number_for(row.id),
            "category": row.category,
            "status": row.status,
            "status_label": STATUS_NAMES.get(row.status, row.status),  # data: English
            "description": row.description,
            "address": row.address,
            "neighbourhood": row.neighbourhood or "",
            "requested_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
            "votes": row.vote_count,
            "comments": row.comment_count,
            "url": _public_url(row.id),
        },
    }


def _map_rows(filters: browse.Filters, limit: int) -> list:
    """The newest ``limit`` matching reports with a point, with only what a pin shows:
    their ids first (from the map's covering index), then their details by id. One
    query joining the two made PostgreSQL hash the ids and scan the whole table for
    them (33 ms at 100,000 reports, against a few by id)."""
    ids = (
        replica.reader()
        .scalars(
            browse.filtered(filters)
            .where(Report.latitude.is_not(None), Report.longitude.is_not(None))
            .limit(limit)
            .with_only_columns(Report.id)
        )
        .all()
    )
    if not ids:
        return []
    query = (
        select(*REPORT_PLACE_COLUMNS, Category.name.label("category"))
        .join(Category, Category.id == Report.category_id)
        .where(Report.id.in_(ids))
        .order_by(*browse.ordering(filters))
    )
    return replica.reader().execute(query).all()


def _map_point(row) -> dict:
    """A report on the map at street level: what its pin's popup shows, and no more."""
    description = row.description or ""
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [row.longitude, row.latitude]},
        "properties": {
            "tracking_number": tracking_number_for(row.id),
            "category": row.category,
            "status": row.status,
            "description": description[:139] + "…" if len(description) > 140 else description,
            "address": row.address,
            "url": _public_url(row.id),
        },
    }


def _cluster(cell: clusters.Cell) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [cell.longitude, cell.latitude]},
        "properties": {"cluster": True, "count": cell.count},
    }


def _map_answer(filters: browse.Filters, zoom: int) -> dict:
    """What a map of ``filters.bbox`` at ``zoom`` shows: counts per grid cell below street
    level, the newest reports (at most POINT_CAP) at street level."""
    if not clusters.shows_points(zoom):
        cells = clusters.cells(filters, zoom, replica.reader())
        return {
            "type": "FeatureCollection",
            "zoom": zoom,
            "clustered": True,
            "total": sum(cell.count for cell in cells),
            "truncated": False,
            "features": [_cluster(cell) for cell in cells],
        }
    rows = _map_rows(filters, clusters.POINT_CAP + 1)
    return {
        "type": "FeatureCollection",
        "zoom": zoom,
        "clustered": False,
        "truncated": len(rows) > clusters.POINT_CAP,
        "features": [_map_point(row) for row in rows[: clusters.POINT_CAP]],
    }


def _geojson_limit() -> str:
    # The map asks again on every pan and zoom (a few small answers a minute); an export
    # of everything is the expensive read.
    return "120/minute" if request.args.get("zoom") else "30/minute"


@bp.get("/reports.geojson")
@limiter.limit(_geojson_limit)
def geojson():
    """The filtered reports as GeoJSON. With ``bbox`` and ``zoom``: what the map shows
    there (clusters with counts below street level, capped points at it). With ``bbox``
    only: up to MAP_CAP points. Without either: complete and streamed, as an export."""
    filters, problem = _export_filters()
    if problem:
        return problem
    zoom = None
    if request.args.get("zoom") is not None:
        if filters.bbox is None:
            return error_response(400, "zoom needs a bbox: minLon,minLat,maxLon,maxLat")
        try:
            zoom = clusters.parse_zoom(request.args["zoom"])
        except ValueError as exc:
            return error_response(400, str(exc))
    etag = _etag()
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"'})
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=60"}
    if zoom is not None:
        body = json.dumps(_map_answer(filters, zoom), ensure_ascii=False, separators=(",", ":"))
        return Response(body, mimetype="application/geo+json", headers=headers)
    limit = MAP_CAP if filters.bbox else None

    def generate():
        yield '{"type":"FeatureCollection","features":['
        for n, report in enumerate(_rows(filters, limit, on_the_map=True)):
            yield ("," if n else "") + json.dumps(_feature(report), ensure_ascii=False)
        yield "]}"

    if filters.bbox:  # at most MAP_CAP points: whole, so a shared cache may keep it
        body = "".join(generate())
        return Response(body, mimetype="application/geo+json", headers=headers)
    response = Response(
        stream_with_context(generate()), mimetype="application/geo+json", headers=headers
    )
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


@bp.get("/reports.csv")
@limiter.limit("30/minute")
def csv_export():
    filters, problem = _export_filters()
    if problem:
        return problem

    def generate():
        yield csv_line(CSV_COLUMNS)
        for row in _rows(filters, None):
            yield csv_line(
                [
                    tracking_number_for(row.id),
                    row.category,
                    row.group,
                    row.status,
                    row.description,
                    row.address,
                    row.neighbourhood or "",
                    row.latitude,
                    row.longitude,
                    _iso(row.created_at),
                    _iso(row.acknowledged_at),
                    _iso(row.closed_at),
                    row.vote_count,
                    row.comment_count,
                    _public_url(row.id),
                ]
            )

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="bpt311-reports.csv"'
    return response
