"""What the /stats page and the staff dashboard share: the period form, the charts built
from the figures, and each chart's data as CSV rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, timedelta

from babel.dates import format_skeleton
from flask_babel import format_date, format_decimal, format_percent, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import Form, SelectChoice, SelectField

from bpt311.dates import DayField, date_problems
from bpt311.spreadsheets import spreadsheet_safe
from bpt311.stats import charts
from bpt311.stats.breakdowns import Dashboard, Names
from bpt311.stats.selection import MAX_WEEKS, Outcome, Selection, default_period

TABLES = ("weeks", "departments", "categories", "neighbourhoods")
CHART_ROWS = 10


class PeriodForm(Form):
    """The GET form above the figures (no CSRF: it changes nothing)."""

    date_from = DayField(_l("From"))
    date_to = DayField(_l("Until"))
    department = SelectField(_l("Department"), validate_choice=False)
    category = SelectField(_l("Kind of problem"), validate_choice=False)
    neighbourhood = SelectField(_l("Neighbourhood"), validate_choice=False)


def read_selection(args, known: Names, public: bool) -> tuple[PeriodForm, Selection, list[str]]:
    """The form bound to ``args``, the selection it means, and messages about bad input
    (a bad value is left out, never an error page)."""
    form = PeriodForm(args)
    form.department.choices = [
        SelectChoice("", _("All departments")),
        *(
            SelectChoice(str(key), name)
            for key, name in sorted(known.departments.items(), key=lambda item: item[1])
        ),
    ]
    form.category.choices = [
        SelectChoice("", _("All kinds")),
        *(SelectChoice(code, name) for code, name in known.categories.values()),
    ]
    form.neighbourhood.choices = [
        SelectChoice("", _("All neighbourhoods")),
        *(SelectChoice(place.slug, place.name) for place in known.places),
    ]
    form.validate()
    problems = date_problems(form)
    first, last = default_period()
    first = form.date_from.day or first
    last = form.date_to.day or last
    if first > last:
        problems.append(_("The “from” date is after the “until” date, so they were swapped"))
        first, last = last, first
    if (last - first).days > MAX_WEEKS * 7:
        first = last - timedelta(weeks=MAX_WEEKS) + timedelta(days=1)
        problems.append(
            _(
                "A period can be at most %(weeks)s weeks; it now starts %(date)s",
                weeks=MAX_WEEKS,
                date=day_words(first),
            )
        )
    form.date_from.data, form.date_to.data = first, last
    by_code = {code: key for key, (code, _) in known.categories.items()}
    by_slug = {place.slug: place.id for place in known.places}
    department = form.department.data or ""
    selection = Selection(
        first,
        last,
        department_id=int(department) if department.isdigit() else None,
        category_id=by_code.get(form.category.data or ""),
        neighbourhood_id=by_slug.get(form.neighbourhood.data or ""),
        public=public,
    )
    return form, selection, problems


# ---- words and numbers --------------------------------------------------------------------


def tenths(value: float) -> str:
    """``1,234.5`` in English, ``1.234,5`` in Spanish and Portuguese."""
    return format_decimal(round(value, 1), format="#,##0.0")


def duration(seconds: float | None) -> str:
    """A response time in words: hours under two days, days above."""
    if seconds is None:
        return _("none yet")
    hours = seconds / 3600
    if hours < 48:
        return _("%(hours)s hours", hours=tenths(hours))
    return _("%(days)s days", days=tenths(hours / 24))


def days(seconds: float | None) -> str:
    """A response time as a number of days for a table whose heading says "days"."""
    return _("none") if seconds is None else tenths(seconds / 86400)


def share(value: float | None) -> str:
    """``75%`` in English and Portuguese, ``75 %`` in Spanish."""
    return _("none closed") if value is None else format_percent(value)


def day_words(day: date) -> str:
    """``November 25, 2026`` / ``25 de noviembre de 2026`` / ``25 de novembro de 2026``."""
    return format_date(day, "long")


def week_label(monday: date) -> str:
    """``Nov 25`` / ``25 nov`` / ``25 de nov.``: short enough for a chart's axis."""
    return format_skeleton("MMMd", monday, locale=get_locale() or "en")


def hours(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.1f}"


# ---- charts ------------------------------------------------------------------------------


def build_charts(figures: Dashboard) -> dict:
    labels = [week_label(week.monday) for week in figures.weeks]
    received = {row.key: row.received for row in figures.by_neighbourhood}
    return {
        "weeks": charts.grouped_bars(
            labels,
            [
                ("received", _("received"), [week.received for week in figures.weeks]),
                ("closed", _("closed"), [week.closed for week in figures.weeks]),
            ],
        ),
        "backlog": charts.line(
            labels, [week.open_at_end for week in figures.weeks], _("open at the week's end")
        ),
        "close_times": charts.rows(
            [(row.name, row.close_median) for row in figures.by_department], duration
        ),
        "in_time": charts.rows(
            # the busiest kinds: the table below has every one
            [(row.name, row.share_in_time) for row in figures.by_category if row.closed][
                :CHART_ROWS
            ],
            share,
            top=1,
            series="closed",
        ),
        "map": charts.choropleth(
            [(place.name, place.geometry, received.get(place.id, 0)) for place in figures.places],
            charts.count,
        ),
    }


# ---- CSV ---------------------------------------------------------------------------------

OUTCOME_COLUMNS = [
    "received",
    "acknowledged",
    "closed",
    "closed_within_sla",
    "share_within_sla",
    "median_hours_to_acknowledge",
    "p90_hours_to_acknowledge",
    "median_hours_to_close",
    "p90_hours_to_close",
]


def _outcome_cells(row: Outcome) -> list:
    return [
        row.received,
        row.acknowledged,
        row.closed,
        row.closed_in_time,
        "" if row.share_in_time is None else f"{row.share_in_time:.4f}",
        hours(row.acknowledge_median),
        hours(row.acknowledge_p90),
        hours(row.close_median),
        hours(row.close_p90),
    ]


def table_rows(figures: Dashboard, table: str) -> Iterator[list]:
    """One chart's data, header first, as the CSV download gives it."""
    if table == "weeks":
        yield ["week_starting", "received", "closed", "open_at_week_end"]
        for week in figures.weeks:
            yield [week.monday.isoformat(), week.received, week.closed, week.open_at_end]
        return
    rows = {
        "departments": figures.by_department,
        "categories": figures.by_category,
        "neighbourhoods": figures.by_neighbourhood,
    }[table]
    yield [table[:-1] if table != "categories" else "category", *OUTCOME_COLUMNS]
    for row in rows:
        yield [row.name, *_outcome_cells(row)]


def csv_lines(rows: Iterable[Iterable]) -> Iterator[str]:
    """CSV text a line at a time, every cell defused against spreadsheet formulas."""
    for row in rows:
        buffer = io.StringIO()
        csv.writer(buffer).writerow([spreadsheet_safe(value) for value in row])
        yield buffer.getvalue()
