"""The developer guide, and the small pages the city's website puts in iframes."""

from __future__ import annotations

from flask import make_response, render_template, request
from sqlalchemy import select

from bpt311.api.service_requests import clean, service_notice, tracking_number
from bpt311.api.views import bp
from bpt311.extensions import db
from bpt311.models import STATUS_LABELS, Category, Neighbourhood, Report
from bpt311.security import embeddable
from bpt311.site import site_url

RECENT_COUNT = 10


@bp.get("/developers")
def developers():
    example = db.session.execute(
        select(Category.service_code, Category.sla_hours)
        .where(Category.active)
        .order_by((Category.service_code == "pothole").desc(), Category.position)
        .limit(1)
    ).first()
    latest = db.session.scalar(
        select(Report.id).where(Report.publicly_visible).order_by(Report.id.desc()).limit(1)
    )
    return render_template(
        "api/developers.html",
        api=f"{site_url()}/open311/v2",
        example_code=example.service_code if example else "pothole",
        example_notice=service_notice(example.sla_hours if example else 72),
        example_id=tracking_number(latest or 123),
        neighbourhoods=db.session.execute(
            select(Neighbourhood.slug, Neighbourhood.name).order_by(Neighbourhood.name)
        ).all(),
    )


def recent_reports(neighbourhood_id: int | None, limit: int = RECENT_COUNT) -> list[dict]:
    """The latest public reports, optionally in one neighbourhood: one query."""
    query = (
        select(
            Report.id,
            Report.status,
            Report.address,
            Report.created_at,
            Category.name.label("category"),
            Neighbourhood.name.label("neighbourhood"),
        )
        .join(Category, Category.id == Report.category_id)
        .outerjoin(Neighbourhood, Neighbourhood.id == Report.neighbourhood_id)
        .where(Report.publicly_visible)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(limit)
    )
    if neighbourhood_id is not None:
        query = query.where(Report.neighbourhood_id == neighbourhood_id)
    return [
        {
            "tracking_number": tracking_number(row.id),
            "category": row.category,
            "status": row.status,
            "status_label": STATUS_LABELS.get(row.status, row.status),
            "place": row.address or row.neighbourhood or "Bridgeport",
            "created_at": row.created_at,
        }
        for row in db.session.execute(query)
    ]


def _embed(template: str, status: int = 200, **context):
    response = make_response(render_template(template, **context), status)
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@bp.get("/embed/recent")
@embeddable
def embed_recent():
    slug = clean(request.args.get("neighbourhood"))[:120]
    place = None
    if slug:
        place = db.session.execute(
            select(Neighbourhood.id, Neighbourhood.name, Neighbourhood.slug).where(
                Neighbourhood.slug == slug
            )
        ).first()
        if place is None:
            return _embed("embed/recent.html", 404, reports=[], place=None, unknown=slug)
    reports = recent_reports(place.id if place else None)
    return _embed("embed/recent.html", reports=reports, place=place, unknown="")


@bp.get("/embed/report-button")
@embeddable
def embed_report_button():
    return _embed("embed/report_button.html")
