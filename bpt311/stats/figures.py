"""The dashboard's figures for a period: weekly counts, the backlog, response times and
the share closed within the SLA, overall and by department, category and neighbourhood.

Every figure is a SQL aggregate (window functions for the backlog and percentiles, which
SQLite and PostgreSQL both run), so the page costs the same dozen queries whether the
city has a thousand reports or a hundred thousand.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    CTE,
    ColumnElement,
    Float,
    Select,
    Subquery,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)

from bpt311.dates import city_midnight, city_today
from bpt311.extensions import db
from bpt311.models import (
    Category,
    Report,
    daily_figure,
)
from bpt311.models.base import UTCDateTime
from bpt311.ops.replica import reader
from bpt311.reports import daily
from bpt311.reports.daily import ACKNOWLEDGED, CLOSED, RECEIVED
from bpt311.reports.figures import seconds_between

ACKNOWLEDGE, CLOSE = 0, 1  # the exact queries' kinds of event
DIMENSIONS = {
    "department": Report.department_id,
    "category": Report.category_id,
    "neighbourhood": Report.neighbourhood_id,
}
MAX_WEEKS = 105  # two years and a bit: the chart stays legible and the SQL bounded
DEFAULT_WEEKS = 12


@dataclass
class Selection:
    """Which reports the figures are about: a period of city days and optional filters.
    ``public`` leaves out the reports moderators hid."""

    first_day: date
    last_day: date
    department_id: int | None = None
    category_id: int | None = None
    neighbourhood_id: int | None = None
    public: bool = True

    def conditions(self) -> list[ColumnElement]:
        wanted = []
        if self.public:
            wanted.append(Report.publicly_visible)
        if self.department_id:
            wanted.append(Report.department_id == self.department_id)
        if self.category_id:
            wanted.append(Report.category_id == self.category_id)
        if self.neighbourhood_id:
            wanted.append(Report.neighbourhood_id == self.neighbourhood_id)
        return wanted

    @property
    def starts(self) -> datetime:
        return city_midnight(self.first_day)

    @property
    def ends(self) -> datetime:
        return city_midnight(self.last_day + timedelta(days=1))


def default_period() -> tuple[date, date]:
    """The last twelve weeks: from a Monday eleven weeks back to today."""
    today = city_today()
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(weeks=DEFAULT_WEEKS - 1), today


@dataclass
class Week:
    monday: date  # the week's label; the first and last week may be cut by the period
    starts: datetime
    ends: datetime


def weeks_of(selection: Selection) -> list[Week]:
    """Monday-to-Sunday city weeks covering the period, the ends cut to it."""
    weeks = []
    monday = selection.first_day - timedelta(days=selection.first_day.weekday())
    while monday <= selection.last_day:
        first = max(monday, selection.first_day)
        last = min(monday + timedelta(days=6), selection.last_day)
        weeks.append(Week(monday, city_midnight(first), city_midnight(last + timedelta(days=1))))
        monday += timedelta(weeks=1)
    return weeks


@dataclass
class WeekFigures:
    monday: date
    received: int
    closed: int
    open_at_end: int


def filtered(selection: Selection) -> bool:
    """A page about one department, kind or neighbourhood: the summary keeps one dimension
    at a time, so those are counted exactly from ``report`` (bounded by the filter)."""
    return bool(selection.department_id or selection.category_id or selection.neighbourhood_id)


def _summary(selection: Selection, *conditions) -> list[ColumnElement]:
    wanted = list(conditions)
    if selection.public:
        wanted.append(daily_figure.c.hidden.is_(false()))
    return wanted


def _period(selection: Selection) -> ColumnElement:
    """The summary's rows for the period: its whole Monday-to-Sunday weeks, and its days
    before the first and after the last of them."""
    table = daily_figure.c
    first, last = selection.first_day, selection.last_day
    monday = first + timedelta(days=-first.weekday() % 7)  # the first on or after ``first``
    sunday = last - timedelta(days=(last.weekday() + 1) % 7)  # the last on or before ``last``
    days = (table.span == daily.DAY) & (table.day >= first) & (table.day <= last)
    if sunday < monday + timedelta(days=6):
        return days
    return or_(
        (table.span == daily.WEEK)
        & (table.day >= monday)
        & (table.day <= sunday - timedelta(days=6)),
        days & ((table.day < monday) | (table.day > sunday)),
    )


def _one_group(selection: Selection) -> tuple[int, int] | None:
    """The summary's level and group of a page about the whole city (CITY, 0) or one
    department, kind or neighbourhood; None for two filters at once (not summed apart)."""
    chosen = [
        (level, key)
        for level, key in (
            (daily.DEPARTMENT, selection.department_id),
            (daily.CATEGORY, selection.category_id),
            (daily.NEIGHBOURHOOD, selection.neighbourhood_id),
        )
        if key
    ]
    if not chosen:
        return daily.CITY, 0
    return chosen[0] if len(chosen) == 1 else None


def weekly(selection: Selection) -> list[WeekFigures]:
    """Received and closed in each week, and the open backlog at each week's end: two
    small queries on the daily summary (the rows of the period for the city, or for the
    one department, kind or neighbourhood the page is about; those before it)."""
    group = _one_group(selection)
    if group is None:
        return exact_weekly(selection)
    table = daily_figure.c
    conditions = _summary(
        selection,
        table.span == daily.DAY,
        table.level == group[0],
        table.group_id == group[1],
        table.kind.in_((RECEIVED, CLOSED)),
    )
    total = func.sum(table.reports)
    by_day = reader().execute(
        select(table.day, table.kind, total)
        .where(table.day >= selection.first_day, table.day <= selection.last_day, *conditions)
        .group_by(table.day, table.kind)
    )
    counts = {(day, kind): int(count) for day, kind, count in by_day}
    before = dict(
        reader()
        .execute(
            select(table.kind, total)
            .where(table.day < selection.first_day, *conditions)
            .group_by(table.kind)
        )
        .all()
    )
    backlog = int(before.get(RECEIVED) or 0) - int(before.get(CLOSED) or 0)
    found = []
    for week in weeks_of(selection):
        first = max(week.monday, selection.first_day)
        last = min(week.monday + timedelta(days=6), selection.last_day)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        received = sum(counts.get((day, RECEIVED), 0) for day in days)
        closed = sum(counts.get((day, CLOSED), 0) for day in days)
        backlog += received - closed
        found.append(WeekFigures(week.monday, received, closed, backlog))
    return found


@dataclass
class Outcome:
    """How one group of reports fared in the period. Times are in seconds."""

    key: int | None = None
    name: str = ""
    received: int = 0
    acknowledged: int = 0
    closed: int = 0
    closed_in_time: int = 0
    acknowledge_median: float | None = None
    acknowledge_p90: float | None = None
    close_median: float | None = None
    close_p90: float | None = None

    @property
    def share_in_time(self) -> float | None:
        return self.closed_in_time / self.closed if self.closed else None


LEVELS = (None, "department", "category", "neighbourhood")


def outcomes(selection: Selection) -> dict[str | None, dict[int | None, Outcome]]:
    """Received, acknowledged and closed in the period, the median and 90th percentile
    times to acknowledge and to close, and how many closed within their SLA: overall
    (``[None][None]``) and for each department, category and neighbourhood. One query
    on the daily summary (a filtered page: :func:`exact_outcomes`).

    Response times are those of the reports acknowledged (or closed) in the period,
    measured from when each was reported; the percentiles are read off the summed
    histogram of each group (bpt311/reports/daily.py says how close they are). A report
    closed in time is one closed by its ``due_at`` (set from the category's SLA when it
    arrived, and movable by staff), or within the category's ``sla_hours`` when it has no
    due time."""
    if filtered(selection):
        return exact_outcomes(selection)
    table = daily_figure.c
    rows = reader().execute(
        select(
            table.level,
            table.group_id,
            table.kind,
            func.sum(table.reports),
            func.sum(table.in_time),
            *(func.sum(table[band]) for band in daily.BANDS),
        )
        .where(*_summary(selection, _period(selection)))
        .group_by(table.level, table.group_id, table.kind)
    )
    found: dict[str | None, dict[int | None, Outcome]] = {name: {} for name in LEVELS}
    for level, group, kind, count, in_time, *histogram in rows:
        name = LEVELS[level]
        key = None if not name or (name == "neighbourhood" and not group) else group
        row = found[name].setdefault(key, Outcome(key=key))
        histogram = [int(n or 0) for n in histogram]
        if kind == RECEIVED:
            row.received = int(count)
        elif kind == ACKNOWLEDGED:
            row.acknowledged = int(count)
            row.acknowledge_median = daily.percentile(0.5, histogram)
            row.acknowledge_p90 = daily.percentile(0.9, histogram)
        else:
            row.closed, row.closed_in_time = int(count), int(in_time or 0)
            row.close_median = daily.percentile(0.5, histogram)
            row.close_p90 = daily.percentile(0.9, histogram)
    return found


# ---- exactly, from report: a filtered page, and the reference ---------------------------


def exact_weekly(selection: Selection) -> list[WeekFigures]:
    """Received and closed in each week, and the open backlog at each week's end, counted
    from ``report`` in one query (the filtered pages, and the tests' reference).

    The backlog at a week's end is the backlog before the period plus the running sum of
    (received - closed), a window sum, so no week rescans the whole table."""
    weeks = weeks_of(selection)
    when = UTCDateTime()
    table = union_all(
        *(
            select(
                literal(n).label("n"),
                literal(week.starts, when).label("starts"),
                literal(week.ends, when).label("ends"),
            )
            for n, week in enumerate(weeks)
        )
    ).cte("weeks")
    conditions = selection.conditions()

    def per_week(column):
        return (
            select(table.c.n, func.count(Report.id).label("count"))
            .select_from(table)
            .outerjoin(
                Report, (column >= table.c.starts) & (column < table.c.ends) & _all(conditions)
            )
            .group_by(table.c.n)
            .subquery()
        )

    def before_period(column):
        return (
            select(func.count(Report.id))
            .where(column < selection.starts, *conditions)
            .scalar_subquery()
        )

    received, closed = per_week(Report.created_at), per_week(Report.closed_at)
    backlog_before = before_period(Report.created_at) - before_period(Report.closed_at)
    rows = (
        reader()
        .execute(
            select(
                received.c.n,
                received.c.count,
                closed.c.count,
                backlog_before
                + func.sum(received.c.count - closed.c.count).over(order_by=received.c.n),
            )
            .join(closed, closed.c.n == received.c.n)
            .order_by(received.c.n)
        )
        .all()
    )
    return [
        WeekFigures(weeks[n].monday, received_count, closed_count, int(backlog))
        for n, received_count, closed_count, backlog in rows
    ]


def _all(conditions: list[ColumnElement]) -> ColumnElement:
    return and_(true(), *conditions)


def exact_outcomes(selection: Selection) -> dict[str | None, dict[int | None, Outcome]]:
    """Received, acknowledged and closed in the period, the median and 90th percentile
    times to acknowledge and to close, and how many closed within their SLA: overall
    (``[None][None]``) and for each department, category and neighbourhood. Two queries.

    Response times are those of the reports acknowledged (or closed) in the period,
    measured from when each was reported. A report closed in time is one closed by its
    ``due_at`` (set from the category's SLA when it arrived, and movable by staff), or
    within the category's ``sla_hours`` when it has no due time.

    Counted exactly from ``report`` (percentiles by ``percentile_cont``, or window SQL
    that matches it on SQLite): what a filtered page shows, and the tests' reference."""
    conditions = selection.conditions()
    starts, ends = selection.starts, selection.ends
    allowed = func.coalesce(
        seconds_between(Report.created_at, Report.due_at), Category.sla_hours * 3600.0
    )
    took = seconds_between(Report.created_at, Report.closed_at)
    keys = [column.label(name) for name, column in DIMENSIONS.items()]
    events = union_all(
        select(
            *keys,
            literal_column(str(ACKNOWLEDGE)).label("kind"),
            literal_column("0").label("in_time"),
            cast(seconds_between(Report.created_at, Report.acknowledged_at), Float).label(
                "seconds"
            ),
        ).where(Report.acknowledged_at >= starts, Report.acknowledged_at < ends, *conditions),
        select(
            *keys,
            literal_column(str(CLOSE)).label("kind"),
            case((took <= allowed, 1), else_=0).label("in_time"),
            cast(took, Float).label("seconds"),
        )
        .join(Category, Category.id == Report.category_id)
        .where(Report.closed_at >= starts, Report.closed_at < ends, *conditions),
    )
    received = select(*keys).where(
        Report.created_at >= starts, Report.created_at < ends, *conditions
    )
    if db.engine.dialect.name == "postgresql":
        counts, times = _grouping_sets(received.subquery(), events.subquery())
        timed = reader().execute(times)
    else:
        counts = _counted_levels(received.cte("received"))
        timed = _ranked_here(reader().execute(events).all())
    found: dict[str | None, dict[int | None, Outcome]] = {name: {} for name in LEVELS}

    def outcome(level: int, key) -> Outcome:
        return found[LEVELS[level]].setdefault(key, Outcome(key=key))

    for level, key, count in reader().execute(counts):
        outcome(level, key).received = count
    for level, key, kind, count, in_time, median, p90 in timed:
        row = outcome(level, key)
        if kind == ACKNOWLEDGE:
            row.acknowledged, row.acknowledge_median, row.acknowledge_p90 = count, median, p90
        else:
            row.closed, row.closed_in_time = count, int(in_time or 0)
            row.close_median, row.close_p90 = median, p90
    return found


def _grouping_sets(received: Subquery, events: Subquery) -> tuple[Select, Select]:
    """PostgreSQL: every level in one pass with GROUPING SETS and its own percentile_cont,
    which sorts each group alone (far cheaper than four window sorts of every row)."""

    def by_level(source: Subquery, *wanted):
        dims = [source.c[name] for name in LEVELS[1:]]
        # GROUPING() sets a bit for each column a row is not grouped by: 7 overall,
        # 3 by department, 5 by category, 6 by neighbourhood.
        level = case({7: 0, 3: 1, 5: 2, 6: 3}, value=func.grouping(*dims), else_=-1).label("level")
        key = func.coalesce(*dims).label("key")  # the one grouped column, or NULL
        extra = [source.c[name] for name in wanted]
        sets = func.grouping_sets(
            tuple_(*extra) if extra else tuple_(),
            *(tuple_(dim, *extra) for dim in dims),
        )
        return level, key, extra, sets

    level, key, _, sets = by_level(received)
    counts = select(level, key, func.count()).group_by(sets)
    level, key, (kind,), sets = by_level(events, "kind")
    times = select(
        level,
        key,
        kind,
        func.count(),
        func.sum(events.c.in_time),
        func.percentile_cont(0.5).within_group(events.c.seconds),
        func.percentile_cont(0.9).within_group(events.c.seconds),
    ).group_by(sets)
    return counts, times


def _counted_levels(received: CTE) -> Select:
    """SQLite (no GROUPING SETS): the reports received, counted overall and per level."""
    counts = []
    for level, name in enumerate(LEVELS):
        by = received.c[name] if name else literal_column("NULL")
        counted = select(literal_column(str(level)).label("level"), by, func.count())
        counts.append(counted.group_by(by) if name else counted.select_from(received))
    return union_all(*counts)


def _ranked_here(events) -> list[tuple]:
    """SQLite (no percentile_cont): the period's response times, read once, ranked here
    per level, key and kind; the same figures as PostgreSQL's percentile_cont (window SQL
    ranked every row once per level: about a second for a year of one department at
    100,000 reports, against tens of milliseconds here)."""
    seconds: dict[tuple, list[float]] = defaultdict(list)
    in_time: dict[tuple, int] = defaultdict(int)
    for department, category, neighbourhood, kind, on_time, taken in events:
        for group in (
            (0, None, kind),
            (1, department, kind),
            (2, category, kind),
            (3, neighbourhood, kind),
        ):
            seconds[group].append(taken)
            in_time[group] += on_time
    found = []
    for (level, key, kind), values in seconds.items():
        values.sort()
        found.append(
            (
                level,
                key,
                kind,
                len(values),
                in_time[(level, key, kind)],
                _percentile_cont(0.5, values),
                _percentile_cont(0.9, values),
            )
        )
    return found


def _percentile_cont(fraction: float, ordered: list[float]) -> float:
    """``percentile_cont``: the two values either side of rank ``fraction * (n - 1)``
    share it by their distance (reports/figures.percentile in SQL)."""
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    if low + 1 >= len(ordered):
        return float(ordered[low])
    share = rank - low
    return float(ordered[low]) * (1 - share) + float(ordered[low + 1]) * share
