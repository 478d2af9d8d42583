"""How the city is doing, in a few numbers: SQL aggregates, never Python loops over rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, Select, func, select

from bpt311.extensions import db
from bpt311.models import Report, utcnow

OPEN = ("open", "acknowledged")
CLOSED = ("closed", "archived")


def seconds_between(start, end) -> ColumnElement:
    """``end - start`` in seconds, in each engine's own date arithmetic."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def median_days(durations: Select) -> float | None:
    """The median of a one-column SELECT of seconds, in days (None when there are none)."""
    column = durations.subquery().c[0]
    if db.engine.dialect.name == "postgresql":
        value = db.session.scalar(select(func.percentile_cont(0.5).within_group(column)))
        return None if value is None else float(value) / 86400
    count = db.session.scalar(select(func.count()).select_from(column.table))
    if not count:
        return None
    middle = db.session.scalars(
        select(column).order_by(column).limit(2 - count % 2).offset((count - 1) // 2)
    ).all()
    return sum(middle) / len(middle) / 86400


def month_start() -> datetime:
    zone = ZoneInfo(current_app.config["CITY_TIMEZONE"])
    now = utcnow().astimezone(zone)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def city_figures() -> dict:
    """The home page's figures: the last seven days, open now, median days to acknowledge."""
    week_ago = utcnow() - timedelta(days=7)
    reported, closed, open_now = db.session.execute(
        select(
            func.count(Report.id).filter(Report.created_at >= week_ago),
            func.count(Report.id).filter(Report.closed_at >= week_ago),
            func.count(Report.id).filter(Report.status.in_(OPEN)),
        )
    ).one()
    acknowledge = median_days(
        select(seconds_between(Report.created_at, Report.acknowledged_at)).where(
            Report.acknowledged_at >= utcnow() - timedelta(days=30)
        )
    )
    return {
        "reported_week": reported,
        "closed_week": closed,
        "open_now": open_now,
        "median_days_to_acknowledge": acknowledge,
    }


def neighbourhood_figures(neighbourhood_id: int) -> dict:
    """Open now, closed this month, and the median days to close over the last year."""
    open_now, closed_month = db.session.execute(
        select(
            func.count(Report.id).filter(Report.status.in_(OPEN)),
            func.count(Report.id).filter(
                Report.status.in_(CLOSED), Report.closed_at >= month_start()
            ),
        ).where(Report.neighbourhood_id == neighbourhood_id)
    ).one()
    to_close = median_days(
        select(seconds_between(Report.created_at, Report.closed_at)).where(
            Report.neighbourhood_id == neighbourhood_id,
            Report.closed_at >= utcnow() - timedelta(days=365),
        )
    )
    return {"open_now": open_now, "closed_month": closed_month, "median_days_to_close": to_close}
