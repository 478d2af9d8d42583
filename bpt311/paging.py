"""One way to page a list: read the page number from a query string, count, cut one page.

Every paged list (the public reports, the staff queue, moderation, the audit log, notices)
reads its ``?page=`` with :func:`page_number` and hands the template a :class:`Page`;
``templates/macros/paging.html`` draws the Previous/Next links for all of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from bpt311.extensions import db


def page_number(text: str | None, deepest: int = 10_000) -> int:
    """``?page=`` as a page number from 1 to ``deepest``; anything else is the first page."""
    text = (text or "").strip()
    return max(1, min(int(text), deepest)) if text.isdecimal() and text.isascii() else 1


@dataclass
class Page:
    items: Sequence[Any]
    total: int
    number: int
    size: int
    deepest: int | None = None  # pages past this are refused: narrow the search instead
    capped: bool = False  # more match than were counted: "more than {total}"

    @property
    def count(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.count and (self.deepest is None or self.number < self.deepest)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def too_deep(self) -> bool:
        return self.deepest is not None and self.number > self.deepest


def count_of(query: Select, session: Session | None = None) -> int:
    """How many rows ``query`` selects (its ORDER BY dropped)."""
    session = session or db.session
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))


def page_of(
    query: Select,
    number: int,
    size: int,
    *,
    deepest: int | None = None,
    rows: Callable[[Select], Sequence[Any]] | None = None,
    session: Session | None = None,
) -> Page:
    """Page ``number`` of an ordered SELECT in two queries (the count and the page). ``rows``
    turns the cut SELECT into the page's items (by default the ORM objects it selects)."""
    session = session or db.session
    total = count_of(query, session)
    if deepest is not None and number > deepest:
        return Page([], total, number, size, deepest)
    cut = query.limit(size).offset((number - 1) * size)
    items = rows(cut) if rows else session.scalars(cut).all()
    return Page(list(items), total, number, size, deepest)


def batched(items: Iterable, size: int) -> Iterator[list]:
    """``items`` in lists of ``size`` (the last one shorter): itertools.batched, which
    Python 3.12 brings, for 3.11."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
