"""The dashboard's figures counted exactly from ``report``: what a page about one
department, kind or neighbourhood shows as its breakdowns (the daily summary has one
dimension at a time), what a page with two filters shows throughout, and the tests'
reference for the summary.

PostgreSQL counts every level in one pass with GROUP BY GROUPING SETS and its own
``percentile_cont``. SQLite has neither: it reads the period's reports once, grouped by
their department, kind and neighbourhood, and its response times once, and adds them up
and ranks them here. On SQLite the period's bounds are kept from choosing a date index
(``_unindexed``): a year is most of the table, and the filter's own column leads
``ix_report_figures``, which holds every column these queries read, so one department's
year is read from that index alone (tens of milliseconds at 100,000 reports, against
hundreds through the date index and the table's wide rows).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Subquery,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from bpt311.extensions import db
from bpt311.models import Category, Report
from bpt311.models.base import UTCDateTime
from bpt311.ops.replica import reader
from bpt311.reports.figures import seconds_between
from bpt311.stats.selection import LEVELS, Outcome, Selection, WeekFigures, weeks_of

ACKNOWLEDGE, CLOSE = 0, 1  # the exact queries' kinds of event
DIMENSIONS = {
    "department": Report.department_id,
    "category": Report.category_id,
    "neighbourhood": Report.neighbourhood_id,
}


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
    acknowledged, closed, created = (
        _unindexed(column)
        for column in (Report.acknowledged_at, Report.closed_at, Report.created_at)
    )
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
        ).where(acknowledged >= starts, acknowledged < ends, *conditions),
        select(
            *keys,
            literal_column(str(CLOSE)).label("kind"),
            case((took <= allowed, 1), else_=0).label("in_time"),
            cast(took, Float).label("seconds"),
        )
        .join(Category, Category.id == Report.category_id)
        .where(closed >= starts, closed < ends, *conditions),
    )
    received = select(*keys).where(created >= starts, created < ends, *conditions)
    if db.engine.dialect.name == "postgresql":
        counts, times = _grouping_sets(received.subquery(), events.subquery())
        counted, timed = reader().execute(counts), reader().execute(times)
    else:
        counted = _counted_here(received)
        timed = _ranked_here(reader().execute(events))
    found: dict[str | None, dict[int | None, Outcome]] = {name: {} for name in LEVELS}

    def outcome(level: int, key) -> Outcome:
        return found[LEVELS[level]].setdefault(key, Outcome(key=key))

    for level, key, count in counted:
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


def _unindexed(column):
    """SQLite: ``+column``, which compares the same but keeps the planner from reading the
    period through the column's own index (PostgreSQL plans by its statistics)."""
    if db.engine.dialect.name != "sqlite":
        return column
    return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)


def _levels(department, category, neighbourhood) -> tuple[tuple[int, int | None], ...]:
    """The (level, key) groups a report of these counts in: overall and each dimension."""
    return (0, None), (1, department), (2, category), (3, neighbourhood)


def _counted_here(received: Select) -> list[tuple]:
    """SQLite (no GROUPING SETS): the reports received, counted once per department, kind
    and neighbourhood together (a few hundred rows), and added up here per level."""
    dimensions = received.selected_columns
    totals: dict[tuple, int] = defaultdict(int)
    counted = received.add_columns(func.count()).group_by(*dimensions)
    for department, category, neighbourhood, count in reader().execute(counted):
        for group in _levels(department, category, neighbourhood):
            totals[group] += count
    return [(level, key, count) for (level, key), count in totals.items()]


def _ranked_here(events) -> list[tuple]:
    """SQLite (no percentile_cont): the period's response times, read once, ranked here
    per level, key and kind; the same figures as PostgreSQL's percentile_cont. Each row is
    put once into the list of its department, kind, neighbourhood and kind of event; the
    levels are those lists joined and sorted (window SQL ranked every row once per level:
    about a second for a year of one department at 100,000 reports)."""
    together: dict[tuple, list[float]] = defaultdict(list)
    in_time: dict[tuple, int] = defaultdict(int)
    for department, category, neighbourhood, kind, on_time, taken in events:
        combination = (department, category, neighbourhood, kind)
        together[combination].append(taken)
        if on_time:
            in_time[combination] += 1
    seconds: dict[tuple, list[float]] = defaultdict(list)
    on_time_by: dict[tuple, int] = defaultdict(int)
    for (department, category, neighbourhood, kind), values in together.items():
        for level, key in _levels(department, category, neighbourhood):
            seconds[(level, key, kind)].extend(values)
            on_time_by[(level, key, kind)] += in_time[(department, category, neighbourhood, kind)]
    found = []
    for (level, key, kind), values in seconds.items():
        values.sort()
        found.append(
            (
                level,
                key,
                kind,
                len(values),
                on_time_by[(level, key, kind)],
                percentile_cont(0.5, values),
                percentile_cont(0.9, values),
            )
        )
    return found


def percentile_cont(fraction: float, ordered: list[float]) -> float:
    """``percentile_cont``: the two values either side of rank ``fraction * (n - 1)``
    share it by their distance (reports/figures.percentile in SQL)."""
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    if low + 1 >= len(ordered):
        return float(ordered[low])
    share = rank - low
    return float(ordered[low]) * (1 - share) + float(ordered[low + 1]) * share
