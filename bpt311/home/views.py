"""The home page and the health check."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bpt311.extensions import db
from bpt311.reports import figures, queries

bp = Blueprint("home", __name__)
log = logging.getLogger(__name__)


@bp.get("/")
def index():
    return render_template(
        "home/index.html",
        latest=queries.latest_reports(limit=8),
        groups=queries.category_groups(),
        figures=figures.city_figures(),
    )


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("Health check: database did not answer: %s", exc)
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok"})
