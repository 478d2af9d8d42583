"""The daily summary the figures pages read (``daily_figure``), kept exact in the same
transaction as every change to a report, and made again by ``flask stats rebuild``.

A row holds, for one city day (and, summed, for each Monday-to-Sunday week), one group
(the whole city, a department, a kind of problem or a neighbourhood), hidden reports or
not, and one kind (received, acknowledged, closed): how many reports, how many of the
closed were within their SLA, and a histogram of the response times (one column per band).
So a page sums a few thousand rows (the period's whole weeks and odd days × ~50 groups × 3
kinds), whatever the number of reports. The groups are one dimension at a time: a page
with a filter (one department, kind or neighbourhood) needs them crossed, and counts
exactly from ``report`` instead (``exact_outcomes`` and ``exact_weekly`` in
bpt311/stats/exact.py).

Counts add up exactly. Percentiles do not, so they are read off the summed histogram
(:func:`percentile`): a duration ``d`` of a minute or more is in band ``1 + floor(log(d /
60 s) / log(1.1))`` (each band 10 % wider than the one before, the last holding everything
from about a year), anything under a minute in band 0; a percentile is interpolated as
``percentile_cont`` does, each rank placed evenly inside its band. It is within the band,
so within 10 % of the exact figure (60 s under a minute), and in practice within 1-2 %
(tests/test_daily_figures.py measures it against the exact SQL).

How it stays true: a service that changes what a report counts as (a new report, a
lifecycle move, a hidden or shown report, another category, department, neighbourhood,
due time or location, an import) calls :func:`touch` with the report (before and after a
change that moves its times or its point). That names, through ``effects.before_commit``,
one step that runs as the transaction's last statements: each touched city day is counted
again from ``report`` (its rows deleted and made anew by the same code as the rebuild, so
a rebuild changes nothing), and its week summed again from its days. On PostgreSQL each
week is taken under a transaction-scoped advisory lock first, so two transactions touching
the same week count it one after the other and neither undoes the other's report; SQLite
has one writer at a time anyway. Nothing is kept per process: every process reads the same
rows.

The same calls keep the map's summary true (``map_cell``, bpt311/reports/map_summary.py):
:func:`touch` also remembers the report's fine cell of the map's grid as it is at the
call, and the same step, after the days, counts those cells again (under their own
advisory locks, always taken after the weeks'). A bulk UPDATE that changes only a status
the figures do not count by (archiving) calls :func:`touch_cells_where` instead.

Days are the city's (``CITY_TIMEZONE``): after changing it, or a category's SLA hours
(which count for reports without a due time), run ``flask stats rebuild``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Date,
    SmallInteger,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)

from bpt311 import effects
from bpt311.extensions import db
from bpt311.models import DAILY_BANDS, Category, Report, daily_figure, map_cells
from bpt311.paging import batched
from bpt311.reports import map_summary
from bpt311.site import city_zone

RECEIVED, ACKNOWLEDGED, CLOSED = 0, 1, 2
DAY, WEEK = 1, 7  # a row's span: one city day, or the Monday-to-Sunday week from ``day``
CITY, DEPARTMENT, CATEGORY, NEIGHBOURHOOD = 0, 1, 2, 3
FIRST = 60.0  # seconds: band 0 is anything under a minute
RATIO = 1.1  # each band is 10 % wider than the one before
BANDS = [f"b{n}" for n in range(DAILY_BANDS)]
CHUNK = 31  # days counted per query
LOCK_CLASS = 311  # pg_advisory_xact_lock(311, the ordinal of the week's Monday)
TOUCHED = "bpt311.daily_figure.days"
TOUCHED_CELLS = "bpt311.map_cell.cells"
NAMED = "bpt311.daily_figure.step"  # holds True once the counting step is named


# ---- bands ------------------------------------------------------------------------------


def band_of(seconds: float) -> int:
    if seconds < FIRST:
        return 0
    return min(DAILY_BANDS - 1, 1 + math.floor(math.log(seconds / FIRST) / math.log(RATIO)))


def band_bounds(band: int) -> tuple[float, float]:
    """The seconds a band covers: [low, high)."""
    if band <= 0:
        return 0.0, FIRST
    return FIRST * RATIO ** (band - 1), FIRST * RATIO**band


def percentile(fraction: float, histogram: list[int]) -> float | None:
    """The ``fraction`` percentile of a histogram (a count per band), interpolated as
    PostgreSQL's ``percentile_cont`` does: the values at ranks floor and ceil of
    ``fraction * (n - 1)``, each placed evenly inside its band."""
    total = sum(histogram)
    if not total:
        return None

    def value_at(rank: int) -> float:
        seen = 0
        for band, count in enumerate(histogram):
            if count and rank < seen + count:
                low, high = band_bounds(band)
                return low + (rank - seen + 0.5) / count * (high - low)
            seen += count
        raise AssertionError("rank past the end")  # pragma: no cover

    position = fraction * (total - 1)
    below = math.floor(position)
    value = value_at(below)
    if position > below:
        value += (position - below) * (value_at(below + 1) - value)
    return value


# ---- keeping it true ---------------------------------------------------------------------


def city_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def touch(report: Report) -> None:
    """The report's days (received, acknowledged, closed) and its cell of the map, as they
    are now, are counted again just before the transaction commits. Call it before a
    change that moves those times or the report's point (a reopened report loses its
    closing day, a moved one leaves its cell) and after any change to what the report
    counts as."""
    zone = city_zone()
    touch_days(
        city_day(moment, zone)
        for moment in (report.created_at, report.acknowledged_at, report.closed_at)
        if moment is not None
    )
    touch_cells([map_cells.cell_of(report.latitude, report.longitude)])


def touch_where(*conditions) -> None:
    """:func:`touch` for every report a bulk UPDATE is about to change."""
    zone = city_zone()
    rows = db.session.execute(
        select(
            Report.created_at,
            Report.acknowledged_at,
            Report.closed_at,
            Report.latitude,
            Report.longitude,
        ).where(*conditions)
    ).all()
    touch_days({city_day(moment, zone) for row in rows for moment in row[:3] if moment is not None})
    touch_cells({map_cells.cell_of(row.latitude, row.longitude) for row in rows})


def touch_cells_where(*conditions) -> None:
    """The map's cells alone of every report a bulk UPDATE is about to change: for a
    change of status the daily figures do not count by (closed to archived)."""
    rows = db.session.execute(select(Report.latitude, Report.longitude).where(*conditions))
    touch_cells({map_cells.cell_of(latitude, longitude) for latitude, longitude in rows})


def touch_days(days: Iterable[date]) -> None:
    _remember(TOUCHED).update(days)


def touch_cells(cells: Iterable[int | None]) -> None:
    _remember(TOUCHED_CELLS).update(cell for cell in cells if cell is not None)


def _remember(key: str) -> set:
    """The set of what the transaction touched; the counting step is named once for both."""
    named = effects.remembered(NAMED)
    if not named:
        effects.before_commit(_count_touched)
        named.add(True)
    return effects.remembered(key)


def _count_touched() -> None:
    """The touched days, then the touched cells: one order, so no two transactions wait
    on each other's locks in a ring."""
    days, cells = effects.remembered(TOUCHED), effects.remembered(TOUCHED_CELLS)
    if days:
        count_days(db.session.connection(), sorted(days), city_zone())
        days.clear()
    if cells:
        map_summary.count_cells(db.session.connection(), cells)
        cells.clear()


def count_days(connection: Connection, days: list[date], zone: ZoneInfo) -> None:
    """Count these city days again from ``report``: delete their rows and insert anew."""
    days = sorted(set(days))
    if connection.dialect.name == "postgresql":
        # Week by week (a week's row sums its days), in order, so two transactions never
        # wait on each other in a ring.
        for monday in sorted({monday_of(day) for day in days}):
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:kind, :week)"),
                {"kind": LOCK_CLASS, "week": monday.toordinal()},
            )
    for start in range(0, len(days), CHUNK):
        chunk = days[start : start + CHUNK]
        connection.execute(delete(daily_figure).where(daily_figure.c.day.in_(chunk)))
        starts = _midnight(chunk[0], zone)
        ends = _midnight(chunk[-1] + timedelta(days=1), zone)
        within = [(column >= starts) & (column < ends) for column in _MOMENTS]
        rows = connection.execute(_reports().where(or_(*within)))
        _write(connection, _summed(rows, zone, set(chunk)))
    for monday in sorted({monday_of(day) for day in days}):
        _sum_week(connection, monday)


def rebuild(connection: Connection, zone: ZoneInfo) -> int:
    """Make the whole summary again from ``report`` (idempotent). Returns the rows made."""
    if connection.dialect.name == "postgresql":  # no day is written meanwhile
        connection.execute(text("LOCK TABLE daily_figure IN SHARE ROW EXCLUSIVE MODE"))
    connection.execute(delete(daily_figure))
    rows = connection.execute(_reports().execution_options(yield_per=5000))
    return _write(connection, _summed(rows, zone, None))


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _sum_week(connection: Connection, monday: date) -> None:
    """The week's rows made again as the sum of its day rows."""
    table = daily_figure.c
    connection.execute(delete(daily_figure).where(table.span == WEEK, table.day == monday))
    keys = [table.level, table.group_id, table.hidden, table.kind]
    columns = ["reports", "in_time", *BANDS]
    connection.execute(
        insert(daily_figure).from_select(
            ["day", "span", *(key.name for key in keys), *columns],
            select(
                literal(monday, Date),
                literal(WEEK, SmallInteger),
                *keys,
                *(func.sum(table[name]) for name in columns),
            )
            .where(
                table.span == DAY,
                table.day >= monday,
                table.day <= monday + timedelta(days=6),
            )
            .group_by(*keys),
        )
    )


_MOMENTS = (Report.created_at, Report.acknowledged_at, Report.closed_at)


def _reports():
    return select(
        Report.created_at,
        Report.acknowledged_at,
        Report.closed_at,
        Report.due_at,
        ~Report.publicly_visible,  # hidden by moderators: counted apart
        Report.department_id,
        Report.category_id,
        func.coalesce(Report.neighbourhood_id, 0),
        Category.sla_hours,
    ).join(Category, Category.id == Report.category_id)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def _summed(rows, zone: ZoneInfo, days: set[date] | None) -> dict[tuple, list[int]]:
    """(day, span, level, group, hidden, kind): [reports, in time, band counts …]; the
    week rows too for a rebuild (``days`` None), else only those days'."""
    found: dict[tuple, list[int]] = {}
    for created, acknowledged, closed, due, hidden, department, category, place, sla in rows:
        groups = ((CITY, 0), (DEPARTMENT, department), (CATEGORY, category), (NEIGHBOURHOOD, place))
        for kind, moment in ((RECEIVED, created), (ACKNOWLEDGED, acknowledged), (CLOSED, closed)):
            if moment is None:
                continue
            day = city_day(_aware(moment), zone)
            if days is not None and day not in days:
                continue
            band = in_time = None
            if kind != RECEIVED:
                took = (_aware(moment) - _aware(created)).total_seconds()
                band = band_of(took)
                if kind == CLOSED:
                    allowed = (
                        (_aware(due) - _aware(created)).total_seconds()
                        if due is not None
                        else sla * 3600.0
                    )
                    in_time = took <= allowed
            spans = ((day, DAY),) if days is not None else ((day, DAY), (monday_of(day), WEEK))
            for start, span in spans:
                for level, group in groups:
                    key = (start, span, level, group, bool(hidden), kind)
                    row = found.get(key)
                    if row is None:
                        row = found[key] = [0] * (2 + DAILY_BANDS)
                    row[0] += 1
                    if in_time:
                        row[1] += 1
                    if band is not None:
                        row[2 + band] += 1
    return found


def _aware(moment: datetime) -> datetime:
    """Rows come back through UTCDateTime already aware; a raw driver value may not."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _write(connection: Connection, found: dict[tuple, list[int]]) -> int:
    made = 0
    for batch in batched(found.items(), 1000):
        connection.execute(
            insert(daily_figure),
            [
                {
                    "day": day,
                    "span": span,
                    "level": level,
                    "group_id": group,
                    "hidden": hidden,
                    "kind": kind,
                    "reports": counts[0],
                    "in_time": counts[1],
                    **dict(zip(BANDS, counts[2:], strict=True)),
                }
                for (day, span, level, group, hidden, kind), counts in batch
            ],
        )
        made += len(batch)
    return made
