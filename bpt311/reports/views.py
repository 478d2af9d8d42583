"""Reports seen by the public."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for

from bpt311.reports import queries

bp = Blueprint("reports", __name__)


@bp.get("/reports/<tracking_number>")
def detail(tracking_number: str):
    report = queries.report_by_tracking_number(tracking_number)
    if report is None:
        abort(404)
    if tracking_number != report.tracking_number:
        return redirect(url_for(".detail", tracking_number=report.tracking_number), 301)
    return render_template("reports/detail.html", report=report)
