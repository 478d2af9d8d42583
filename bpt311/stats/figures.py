"""The dashboard's figures for a period, read from the daily summary
(bpt311/reports/daily.py): weekly counts, the backlog, response times and the share closed
within the SLA, overall and by department, category and neighbourhood.

A page about the whole city or one department, kind or neighbourhood sums a few thousand
summary rows, so it costs the same few queries whether the city has a thousand reports or
a hundred thousand. The summary's response times are for one dimension at a time, so a
page about one department, kind or neighbourhood has its breakdowns counted exactly from
``report`` (exact.py), as a page with two filters has everything.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, false, func, or_, select

from bpt311.models import daily_figure
from bpt311.ops.replica import reader
from bpt311.reports import daily
from bpt311.reports.daily import ACKNOWLEDGED, CLOSED, RECEIVED
from bpt311.stats.exact import exact_outcomes, exact_weekly
from bpt311.stats.selection import LEVELS, Outcome, Selection, WeekFigures, filtered, weeks_of


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
