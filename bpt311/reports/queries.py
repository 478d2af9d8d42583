"""Read-only questions about reports, each answered in a fixed number of queries."""

from __future__ import annotations

from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bpt311.extensions import db
from bpt311.i18n import translated
from bpt311.models import Category, Neighbourhood, Report, report_id_from_tracking_number
from bpt311.reports.rows import ListRow, list_rows


def latest_reports(limit: int = 10) -> list[ListRow]:
    """The newest reports the public may see, as plain rows for templates/reports/_row.html."""
    return list_rows(
        select(Report)
        .where(Report.publicly_visible)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(limit)
    )


def category_groups() -> list[tuple[str, list[Category]]]:
    """Active categories, grouped the way residents think, in catalogue order."""
    categories = db.session.scalars(
        select(Category).where(Category.active).order_by(Category.position, Category.name)
    ).all()
    order: dict[str, int] = {}
    for category in categories:
        order.setdefault(category.group, len(order))
    categories = sorted(categories, key=lambda c: (order[c.group], c.position))
    return [(group, list(items)) for group, items in groupby(categories, key=lambda c: c.group)]


def merged_into(report: Report) -> list[Report]:
    """Reports closed as duplicates of this one, that the public may see."""
    return db.session.scalars(
        select(Report)
        .where(Report.duplicate_of_id == report.id, Report.publicly_visible)
        .order_by(Report.id)
    ).all()


def report_by_old_number(text: str) -> Report | None:
    """The report an earlier system's number names (``SCF-1234567``, an Open311 id), for
    reports brought over by ``flask import``. Hidden ones are not found."""
    text = (text or "").strip()
    # PostgreSQL refuses a NUL in text: such a number is nobody's anyway
    if not text or len(text) > 100 or not text.isprintable():
        return None
    wanted = [text, text[4:]] if text.upper().startswith("SCF-") else [text]
    return db.session.scalars(
        select(Report)
        .where(Report.import_id.in_(wanted), Report.publicly_visible)
        .order_by(Report.id)
        .limit(1)
    ).first()


def report_by_tracking_number(tracking_number: str) -> Report | None:
    return report_numbered(
        tracking_number,
        selectinload(Report.category),
        selectinload(Report.department),
        selectinload(Report.neighbourhood),
        selectinload(Report.media),
        selectinload(Report.events),
        selectinload(Report.reporter),
    )


def report_numbered(tracking_number: str, *loads) -> Report | None:
    """The report a typed tracking number names (hidden ones too: the caller decides),
    with the relationships ``loads`` loads; None for no such number."""
    report_id = report_id_from_tracking_number(tracking_number)
    if report_id is None:
        return None
    return db.session.scalars(
        select(Report).where(Report.id == report_id).options(*loads)
    ).one_or_none()


def report_typed(text: str, include_hidden: bool = False) -> Report | None:
    """The report a search box's text names, when it is a tracking number in any spelling;
    a report the moderators hid is only found when ``include_hidden`` (staff)."""
    report_id = report_id_from_tracking_number(text)
    if report_id is None:
        return None
    query = select(Report).where(Report.id == report_id)
    if not include_hidden:
        query = query.where(Report.publicly_visible)
    return db.session.scalars(query).one_or_none()


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.lower()).split()


def _stem(word: str) -> str:
    """A plural's singular, roughly: rats -> rat, potholes -> pothole, bodies -> body."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _matches(category: Category, words: list[str]) -> bool:
    """Every query word starts a word of the category's name, keywords, description or group,
    as written or as translated for the page's language."""
    texts = [category.name, category.keywords, category.description, category.group]
    texts += [translated(category, name) for name in ("name", "description", "group")]
    haystack = _words(" ".join(texts))
    return all(any(w.startswith(_stem(word)) for w in haystack) for word in words)


def search_categories(query: str = "") -> list[tuple[str, list[Category]]]:
    """Active categories matching every word of ``query`` (all of them for an empty one),
    grouped, with categories whose name matches first in each group."""
    words = _words(query)
    groups = category_groups()
    if not words:
        return groups
    found = []
    for group, categories in groups:
        hits = [c for c in categories if _matches(c, words)]
        hits.sort(
            key=lambda c: (
                not all(_stem(w) in f"{c.name} {translated(c, 'name')}".lower() for w in words)
            )
        )
        if hits:
            found.append((group, hits))
    return found


def neighbourhoods() -> list[tuple[int, str]]:
    """Every neighbourhood as (id, name), by name: for a resident to say where a report is."""
    return list(
        db.session.execute(
            select(Neighbourhood.id, Neighbourhood.name).order_by(Neighbourhood.name)
        )
    )
