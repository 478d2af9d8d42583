"""The home page."""

from __future__ import annotations

from flask import Blueprint, render_template

from bpt311.reports import figures, queries

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template(
        "home/index.html",
        latest=queries.latest_reports(limit=8),
        groups=queries.category_groups(),
        figures=figures.city_figures(),
    )
