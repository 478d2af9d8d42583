"""What a figures page is about (a period of city days, optional filters) and the shapes
of its figures, shared by the summary's reading (figures.py) and the exact counting
(exact.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement

from bpt311.dates import city_midnight, city_today
from bpt311.models import Report

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
