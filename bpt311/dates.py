"""Days people type into "from" and "until" filters, read one way across the whole site.

Every filter form (the reports list, map, neighbourhood pages and their exports, the staff
queue and its exports, the audit log, /stats and the staff dashboard) reads its days with
:class:`DayField`. A day that is not a real one (2026-02-30, "soon") or lies outside
:data:`EARLIEST` … :func:`latest` is an error on its field, said by :func:`date_problems`,
and the page answers 400 (:func:`has_errors`): a far-off day would otherwise overflow
when turned into a moment (9999-12-31 plus a day), and no record lies out there anyway.
A staff due date (``staff.assignment.set_due``) keeps to the same range.

Open311's ``start_date``/``end_date`` are not days but W3C date-times with offsets, and the
GeoReport standard asks that any valid one be answered: ``api.service_requests.parse_moment``
clamps them to the calendar's ends instead (tests/test_open311.py pins that).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from wtforms.fields import DateField
from wtforms.validators import Optional

from bpt311.errors import error_response
from bpt311.models import utcnow
from bpt311.site import city_zone

EARLIEST = date(2000, 1, 1)  # before the city's first electronic 311 record


def city_today() -> date:
    return utcnow().astimezone(city_zone()).date()


def city_midnight(day: date) -> datetime:
    """The moment ``day`` begins on the city's clock."""
    return datetime.combine(day, time.min, tzinfo=city_zone())


def latest() -> date:
    """The last day a filter may name: a year from today (due dates and plans look ahead)."""
    return city_today() + timedelta(days=365)


class DayField(DateField):
    """An optional day typed as YYYY-MM-DD (what ``<input type=date>`` sends), within range.

    What was typed stays in the field, so the form shows it back beside its error."""

    problem: str = ""  # "" when fine, else "format" or "range"

    def __init__(self, label=None, **kwargs):
        super().__init__(label, [Optional()], format="%Y-%m-%d", **kwargs)

    def post_validate(self, form, validation_stopped):
        self.problem = ""
        if self.errors:  # not a day at all: "soon", 31/12/2026, 2026-02-30
            self.problem = "format"
            self.errors = [_("Enter a date like 2026-11-25")]
        elif self.data is not None and not EARLIEST <= self.data <= latest():
            self.problem = "range"
            self.errors = [
                _(
                    "Enter a date from %(earliest)s to %(latest)s",
                    earliest=EARLIEST.isoformat(),
                    latest=latest().isoformat(),
                )
            ]

    @property
    def day(self) -> date | None:
        """The day asked for, or None when none was typed or it was refused."""
        return None if self.problem else self.data


def day_fields(form) -> list[DayField]:
    return [field for field in form if isinstance(field, DayField)]


def has_errors(form) -> bool:
    """Whether any day on ``form`` was refused: the page then answers 400."""
    return any(field.problem for field in day_fields(form))


def date_problems(form) -> list[str]:
    """The refused days of a validated ``form``, said one way everywhere, for the summary."""
    problems = []
    for field in day_fields(form):
        if field.problem == "format":
            problems.append(_("%(field)s: enter a date like 2026-11-25", field=field.label.text))
        elif field.problem == "range":
            problems.append(
                _(
                    "%(field)s: enter a date from %(earliest)s to %(latest)s",
                    field=field.label.text,
                    earliest=EARLIEST.isoformat(),
                    latest=latest().isoformat(),
                )
            )
    return problems


def status_for(form) -> int:
    """A page showing ``form``: 400 when a day was refused (it shows what was typed and why)."""
    return 400 if has_errors(form) else 200


def refusal(form):
    """The 400 answer for a partial or an export whose days were refused, else None. An
    export answers before it starts streaming, so no download stops half-way."""
    if not has_errors(form):
        return None
    return error_response(400, " ".join(date_problems(form)))
