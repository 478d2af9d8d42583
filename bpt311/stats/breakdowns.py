"""The dashboard's figures put together and named: each breakdown (department, category,
neighbourhood) with its names in the page's language, what is on each desk now (staff only),
and :class:`Dashboard`, everything the public page shows. The figures themselves are
:mod:`.figures`'s."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import (
    case,
    func,
    select,
)

from bpt311.i18n import translated
from bpt311.models import (
    Category,
    Department,
    Neighbourhood,
    Report,
    User,
    utcnow,
)
from bpt311.ops.replica import reader
from bpt311.reports.figures import OPEN
from bpt311.stats.figures import outcomes, weekly
from bpt311.stats.selection import LEVELS, Outcome, Selection, WeekFigures


@dataclass
class Place:
    id: int
    name: str
    slug: str
    geometry: dict


@dataclass
class Names:
    """Everything the filters and tables name: one query each."""

    departments: dict[int, str] = field(default_factory=dict)
    categories: dict[int, tuple[str, str]] = field(default_factory=dict)  # id: (code, name)
    places: list[Place] = field(default_factory=list)


def names() -> Names:
    departments = reader().execute(select(Department.id, Department.name)).all()
    categories = (
        reader()
        .execute(
            select(
                Category.id, Category.service_code, Category.name, Category.translations
            ).order_by(Category.position)
        )
        .all()
    )
    places = (
        reader()
        .execute(
            select(
                Neighbourhood.id,
                Neighbourhood.name,
                Neighbourhood.slug,
                Neighbourhood.geometry_json,
            ).order_by(Neighbourhood.name)
        )
        .all()
    )
    return Names(
        departments={row.id: row.name for row in departments},
        # in the page's language where an admin translated them
        categories={row.id: (row.service_code, translated(row, "name")) for row in categories},
        places=[Place(p.id, p.name, p.slug, json.loads(p.geometry_json)) for p in places],
    )


def named_breakdown(
    found: dict[int | None, Outcome], dimension: str, known: Names
) -> list[Outcome]:
    """One level of :func:`outcomes` with each group's name, busiest first."""
    if dimension == "department":
        label = known.departments
    elif dimension == "category":
        label = {key: name for key, (_, name) in known.categories.items()}
    else:
        label = {place.id: place.name for place in known.places}
    for key, row in found.items():
        row.name = label.get(key, _("No neighbourhood") if key is None else _("Unknown"))
    if dimension == "neighbourhood":  # every neighbourhood, so the map has no holes
        for place in known.places:
            found.setdefault(place.id, Outcome(key=place.id, name=place.name))
    return sorted(found.values(), key=lambda row: (-row.received, row.name))


@dataclass
class Workload:
    """What is on a department's (or a person's) desk now: staff only."""

    name: str
    open: int
    overdue: int


def workload_by_department(selection: Selection, known: Names) -> list[Workload]:
    now = utcnow()
    rows = (
        reader()
        .execute(
            select(
                Report.department_id,
                func.count(Report.id),
                func.count(case((Report.due_at < now, 1))),
            )
            .where(Report.status.in_(OPEN), *selection.conditions())
            .group_by(Report.department_id)
        )
        .all()
    )
    return sorted(
        (Workload(known.departments.get(key, "Unknown"), count, late) for key, count, late in rows),
        key=lambda row: (-row.overdue, -row.open, row.name),
    )


def workload_by_assignee(selection: Selection, department_id: int | None) -> list[Workload]:
    """Open and overdue reports per assignee (and "No one yet"), in one department when
    given (a staff member sees their own)."""
    now = utcnow()
    conditions = selection.conditions()
    if department_id:
        conditions.append(Report.department_id == department_id)
    # Counted per assignee from the desks index first, then named: a join per report
    # row would look the person up 40,000 times at 100,000 reports.
    desks = (
        select(
            Report.assignee_id,
            func.count(Report.id).label("open"),
            func.count(case((Report.due_at < now, 1))).label("late"),
        )
        .where(Report.status.in_(OPEN), *conditions)
        .group_by(Report.assignee_id)
        .subquery()
    )
    rows = (
        reader()
        .execute(
            select(
                func.coalesce(User.display_name, User.email),
                User.email,
                desks.c.open,
                desks.c.late,
            )
            .select_from(desks)
            .outerjoin(User, User.id == desks.c.assignee_id)
        )
        .all()
    )
    return sorted(
        (
            Workload((name or email) if email else _("No one yet"), count, late)
            for name, email, count, late in rows
        ),
        key=lambda row: (-row.overdue, -row.open, row.name),
    )


@dataclass
class Dashboard:
    selection: Selection
    weeks: list[WeekFigures]
    overall: Outcome
    by_department: list[Outcome]
    by_category: list[Outcome]
    by_neighbourhood: list[Outcome]
    places: list[Place]

    @property
    def open_at_end(self) -> int:
        return self.weeks[-1].open_at_end if self.weeks else 0


def dashboard(selection: Selection, known: Names, weeks_only: bool = False) -> Dashboard:
    """Every figure the public page shows, from the daily summary in a fixed number of
    queries (only the weekly ones when ``weeks_only``: the weekly CSV needs no response
    times). Nothing is kept per process, so every process shows the same numbers."""
    found = {name: {} for name in LEVELS} if weeks_only else outcomes(selection)
    return Dashboard(
        selection=selection,
        weeks=weekly(selection),
        overall=found[None].get(None, Outcome()),
        by_department=named_breakdown(found["department"], "department", known),
        by_category=named_breakdown(found["category"], "category", known),
        by_neighbourhood=named_breakdown(found["neighbourhood"], "neighbourhood", known),
        places=known.places,
    )
