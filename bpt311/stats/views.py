"""The public statistics page: how the city is doing, without anything private (hidden
reports are left out; no contact details, notes or staff names are ever read)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, stream_with_context

from bpt311 import dates
from bpt311.stats import breakdowns, page

bp = Blueprint("stats", __name__)
bp.add_app_template_filter(page.duration, "response_time")
bp.add_app_template_filter(page.share, "share")
bp.add_app_template_filter(page.days, "days")
bp.add_app_template_filter(page.day_words, "day_words")


@bp.get("/stats")
def index():
    known = breakdowns.names()
    form, selection, problems = page.read_selection(request.args, known, public=True)
    dashboard = breakdowns.dashboard(selection, known)
    return render_template(
        "stats/index.html",
        form=form,
        problems=problems,
        figures=dashboard,
        charts=page.build_charts(dashboard),
        csv_endpoint="stats.table_csv",
    ), dates.status_for(form)


@bp.get("/stats/<table>.csv")
def table_csv(table: str):
    return figures_csv(table, public=True)


def figures_csv(table: str, *, public: bool) -> Response:
    """One table of the figures page (public) or the dashboard, for the period asked."""
    if table not in page.TABLES:
        abort(404)
    known = breakdowns.names()
    form, selection, _ = page.read_selection(request.args, known, public=public)
    if refused := dates.refusal(form):
        return refused
    return csv_response(
        page.table_rows(breakdowns.dashboard(selection, known, weeks_only=table == "weeks"), table),
        table,
    )


def csv_response(rows, table: str) -> Response:
    response = Response(stream_with_context(page.csv_lines(rows)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="bpt311-{table}.csv"'
    return response
