"""How the city is doing, in a few numbers: SQL aggregates, never Python loops over rows."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, Float, Select, Subquery, case, cast, func, literal, select

from bpt311.extensions import db
from bpt311.models import Report, daily_figure, utcnow
from bpt311.reports import daily
from bpt311.site import city_zone

OPEN = ("open", "acknowledged")
CLOSED = ("closed", "archived")


def seconds_between(start, end) -> ColumnElement:
    """``end - start`` in seconds, in each engine's own date arithmetic."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def ranked_seconds(durations: Select, group: tuple[str, ...] = ()) -> Subquery:
    """A SELECT of seconds (its column labelled ``seconds``, or its only column) as a
    subquery with each row's 0-based ``rank`` within its ``group`` columns and the group's
    ``total``, ready for :func:`percentile`."""
    inner = durations.subquery()
    seconds = inner.c.seconds if "seconds" in inner.c else list(inner.c)[-1]
    partition = [inner.c[name] for name in group]
    return select(
        *inner.c,
        seconds.label("_seconds"),
        (func.row_number().over(partition_by=partition, order_by=seconds) - 1).label("rank"),
        # The same window as the rank's, framed to the whole group: one sort serves both.
        func.count()
        .over(partition_by=partition, order_by=seconds, rows=(None, None))
        .label("total"),
    ).subquery()


def percentile(fraction: float, ranked: Subquery) -> ColumnElement:
    """The ``fraction`` percentile of a group of :func:`ranked_seconds`, interpolated as
    PostgreSQL's ``percentile_cont`` does, in plain window SQL that SQLite runs too: the
    two rows either side of rank ``fraction * (total - 1)`` share it by their distance."""
    seconds = cast(ranked.c._seconds, Float)
    distance = func.abs(ranked.c.rank - literal(fraction, Float) * (ranked.c.total - 1))
    return func.sum(case((distance < 1, seconds * (1 - distance)), else_=0.0))


def median_days(durations: Select) -> float | None:
    """The median of a one-column SELECT of seconds, in days (None when there are none)."""
    ranked = ranked_seconds(durations)
    value = db.session.scalar(select(percentile(0.5, ranked)))
    return None if value is None else float(value) / 86400


def month_start() -> datetime:
    zone = ZoneInfo(current_app.config["CITY_TIMEZONE"])
    now = utcnow().astimezone(zone)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def city_figures() -> dict:
    """The home page's figures: received and closed in the last seven city days (today
    and the six before) and the median days to acknowledge over the last thirty, from the
    city's rows of the daily summary (bpt311/reports/daily.py), and what is open now, a
    count on the status index. Nothing is kept per process: every process agrees."""
    today = utcnow().astimezone(city_zone()).date()
    table = daily_figure.c
    counted = db.session.execute(
        select(table.kind, func.sum(table.reports))
        .where(
            table.span == daily.DAY,
            table.level == daily.CITY,
            table.day > today - timedelta(days=7),
            table.kind.in_((daily.RECEIVED, daily.CLOSED)),
        )
        .group_by(table.kind)
    ).all()
    counts = {kind: int(total or 0) for kind, total in counted}
    open_now = db.session.scalar(select(func.count(Report.id)).where(Report.status.in_(OPEN)))
    histogram = db.session.execute(
        select(*(func.sum(table[band]) for band in daily.BANDS)).where(
            table.span == daily.DAY,
            table.level == daily.CITY,
            table.day > today - timedelta(days=30),
            table.kind == daily.ACKNOWLEDGED,
        )
    ).one()
    acknowledge = daily.percentile(0.5, [int(n or 0) for n in histogram])
    return {
        "reported_week": counts.get(daily.RECEIVED, 0),
        "closed_week": counts.get(daily.CLOSED, 0),
        "open_now": open_now,
        "median_days_to_acknowledge": None if acknowledge is None else acknowledge / 86400,
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
