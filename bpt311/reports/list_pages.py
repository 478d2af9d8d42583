"""One page of a list of reports and how many there are: the public list's (plain rows,
one statement: bpt311/reports/rows.py) and the ORM one the kiosk and staff lists use."""

from __future__ import annotations

from sqlalchemy import ScalarSelect, Select, func, literal, select
from sqlalchemy.orm import Session, selectinload

from bpt311 import public_cache
from bpt311.extensions import db
from bpt311.models import Media, Report, map_cell
from bpt311.ops import replica
from bpt311.paging import Page
from bpt311.reports.browse import (
    COUNT_CAP,
    MAX_PAGE,
    PAGE_SIZE,
    Filters,
    filtered,
    ordering,
    statuses_only,
    statuses_wanted,
)
from bpt311.reports.rows import page_rows


def with_list_details(query: Select) -> Select:
    """What a list row shows, loaded in a fixed number of queries whatever the length."""
    return query.options(
        selectinload(Report.category),
        selectinload(Report.neighbourhood),
        selectinload(Report.media.and_(Media.kind == "photo")),
    )


def page_of(
    query: Select, number: int, session: Session | None = None, count_up_to: int | None = None
) -> Page:
    """One page of a filtered, ordered SELECT of reports (ORM objects with what a list
    shows), and how many match in all (up to ``count_up_to``: :func:`_counted`), read
    through ``session`` (the primary's unless the caller passes the replica's)."""
    session = session or db.session
    total = session.scalar(select(_counted(query, count_up_to)))
    rows = []
    if number <= MAX_PAGE:
        this_page = query.limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)
        rows = list(session.scalars(with_list_details(this_page)).all())
    return _paged(rows, total, number, count_up_to)


def page_of_reports(filters: Filters) -> Page:
    """The public list's page: read from the replica when there is one; counted up to the
    deepest row it pages to (MAX_PAGE pages), beyond that "more than 10,000", and not
    counted at all when the map's summary already shows more (:func:`_at_least`); its
    reports plain rows (bpt311/reports/rows.py) for templates/reports/_row.html, read
    with their photos and the count in one statement (a second counts when the page is
    empty)."""
    query, session = filtered(filters), replica.reader()
    at_least = _at_least(filters, session)
    if at_least is not None and at_least > COUNT_CAP:
        counted = select(literal(COUNT_CAP + 1)).scalar_subquery()
    else:
        counted = _counted(query, COUNT_CAP)
    rows, total = [], None
    if filters.page <= MAX_PAGE:
        this_page = query.limit(PAGE_SIZE).offset((filters.page - 1) * PAGE_SIZE)
        rows, total = page_rows(this_page, ordering(filters), counted, session)
    if total is None:
        total = session.scalar(select(counted))
    return _paged(rows, total, filters.page, COUNT_CAP)


def _counted(query: Select, count_up_to: int | None) -> ScalarSelect:
    """How many rows ``query`` matches, as a scalar SELECT. With ``count_up_to`` the count
    stops there (:func:`_paged` then says "more than"): counting 100,000 matching rows to
    print a number nobody pages through costs more than the page itself."""
    matching = query.order_by(None).with_only_columns(Report.id)
    if count_up_to is not None:
        matching = matching.limit(count_up_to + 1)
    return select(func.count()).select_from(matching.subquery()).scalar_subquery()


def _paged(rows: list, total: int, number: int, count_up_to: int | None) -> Page:
    capped = count_up_to is not None and total > count_up_to
    if capped:
        total = count_up_to
    return Page(rows, total, number, PAGE_SIZE, deepest=MAX_PAGE, capped=capped)


def _at_least(filters: Filters, session: Session) -> int | None:
    """How many public reports match at least, from the map's summary (the reports with a
    point, per status: bpt311/reports/map_summary.py), when the filters are no more than
    statuses; None when they are more (a lower bound it cannot give). Summing the summary
    reads every cell of the city (a third of a PostgreSQL miss), so the sum is kept a while
    (``public_cache.kept_a_while``): within FILTER_CHOICES_SECONDS, a city that fell below
    10,000 public reports may still read "more than 10,000"."""
    if not statuses_only(filters):
        return None
    statuses = tuple(statuses_wanted(filters))

    def read() -> int:
        wanted = map_cell.c.hidden.is_(False)
        if statuses:
            wanted = wanted & map_cell.c.status.in_(statuses)
        return session.scalar(select(func.coalesce(func.sum(map_cell.c.reports), 0)).where(wanted))

    return public_cache.kept_a_while("list's lower bound", statuses, read).value
