"""A list's reports as plain rows, not ORM objects (#25 item 3).

``templates/reports/_row.html`` shows a category name (translated), a status, a place in
words, counts and the first photo the public may see. Building a page of ``Report``
objects with three ``selectinload``s for that cost more than rendering them; here a list
is one SELECT with the category and neighbourhood joined, and one small SELECT of its
photos, read into frozen dataclasses that answer the same attribute names the row template
uses. Every list that includes the row (the public list and map, a place's reports, the
home page's latest, a watched area) reads its rows here.

The public list's page (:func:`page_rows`) is one statement: the page as a subquery, each
row's first public photo joined by the id a correlated subquery picks for it (after the
page is cut, so never for the rows it skips), and the list's count beside every row (an
uncorrelated subquery, run once). On PostgreSQL every statement is a round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, ScalarSelect, Select, UnaryExpression, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import operators

from bpt311.extensions import db
from bpt311.models import Category, Comment, Media, Neighbourhood, Report
from bpt311.models.reports import (
    REPORT_PLACE_COLUMNS,
    ReportDisplay,
    thumb_size_of,
    variant_srcset,
)


@dataclass(frozen=True, slots=True)
class CategoryName:
    """What the row needs of a category: ``translated(category, "name")`` reads these."""

    name: str
    translations: dict | None


@dataclass(frozen=True, slots=True)
class NeighbourhoodName:
    name: str


@dataclass(frozen=True, slots=True)
class ListPhoto:
    """What ``macros/media.html``'s picture macro reads of a photo."""

    thumb_name: str
    width: int | None
    height: int | None
    alt_text: str
    variant_key: str
    variants: list | None

    @property
    def thumb_size(self) -> tuple[int, int] | None:
        return thumb_size_of(self.width, self.height)

    def srcset(self, content_type: str) -> list[tuple[str, int, int]]:
        return variant_srcset(self.variant_key, self.variants, content_type)


@dataclass(frozen=True, slots=True)
class ListRow(ReportDisplay):
    """One report as a list shows it, with the names ``Report`` gives the same things."""

    id: int
    status: str
    description: str
    address: str
    latitude: float | None
    longitude: float | None
    created_at: datetime
    vote_count: int
    comment_count: int
    category: CategoryName
    neighbourhood: NeighbourhoodName | None
    photo: ListPhoto | None  # the first photo the public may see, by position


_COLUMNS = (
    *REPORT_PLACE_COLUMNS,
    Report.created_at,
    Report.vote_count,
    Report.comment_count,
    Category.name.label("category_name"),
    Category.translations.label("category_translations"),
    Neighbourhood.name.label("neighbourhood_name"),
)
# What ListPhoto holds, in its order.
_PHOTO_COLUMNS = (
    Media.thumb_name,
    Media.width,
    Media.height,
    Media.alt_text,
    Media.variant_key,
    Media.variants,
)


def list_rows(query: Select, session: Session | None = None) -> list[ListRow]:
    """The rows of ``query`` (a SELECT of Report, filtered, ordered and limited) as plain
    rows, in two queries whatever their number (one when there are none)."""
    session = session or db.session
    found = session.execute(
        _joined(query.with_only_columns(*_COLUMNS, maintain_column_froms=False))
    ).all()
    photos = first_photos([row.id for row in found], session)
    return [_row(row, photos.get(row.id)) for row in found]


def page_rows(
    page: Select, order: list[ColumnElement], total: ScalarSelect, session: Session
) -> tuple[list[ListRow], int | None]:
    """One page of the public list in one statement: the rows of ``page`` (a SELECT of
    Report, filtered and limited, in ``order``) with their first public photos, and the
    value of ``total`` (an uncorrelated scalar SELECT, the list's count); None for the
    count when the page is empty (the caller counts apart)."""
    keys = [_sort_key(clause).label(f"sort_{n}") for n, clause in enumerate(order)]
    inner = _joined(page.with_only_columns(*_COLUMNS, *keys, maintain_column_froms=False))
    inner = inner.subquery("page")
    first = _FIRST_PHOTO.where(_SHOWN.report_id == inner.c.id).correlate(inner).scalar_subquery()
    outer_order = [
        inner.c[f"sort_{n}"].desc() if _descending(clause) else inner.c[f"sort_{n}"]
        for n, clause in enumerate(order)
    ]
    found = session.execute(
        select(inner, Media.id.label("photo_id"), *_PHOTO_COLUMNS, total.label("total"))
        .select_from(inner)
        .outerjoin(Media, Media.id == first)
        .order_by(*outer_order)
    ).all()
    rows = [_row(row, _photo_of(row) if row.photo_id is not None else None) for row in found]
    return rows, (found[0].total if found else None)


def _photo_of(row) -> ListPhoto:
    return ListPhoto(*(getattr(row, column.key) for column in _PHOTO_COLUMNS))


def _sort_key(clause: ColumnElement) -> ColumnElement:
    return clause.element if isinstance(clause, UnaryExpression) else clause


def _descending(clause: ColumnElement) -> bool:
    return isinstance(clause, UnaryExpression) and clause.modifier is operators.desc_op


def _joined(query: Select) -> Select:
    return query.join_from(Report, Category, Category.id == Report.category_id).outerjoin_from(
        Report, Neighbourhood, Neighbourhood.id == Report.neighbourhood_id
    )


def _row(row, photo: ListPhoto | None) -> ListRow:
    return ListRow(
        id=row.id,
        status=row.status,
        description=row.description,
        address=row.address,
        latitude=row.latitude,
        longitude=row.longitude,
        created_at=row.created_at,
        vote_count=row.vote_count,
        comment_count=row.comment_count,
        category=CategoryName(row.category_name, row.category_translations),
        neighbourhood=(
            NeighbourhoodName(row.neighbourhood_name)
            if row.neighbourhood_name is not None
            else None
        ),
        photo=photo,
    )


def _public_photo(media, comment) -> list[ColumnElement]:
    """A photo the public may see: not hidden by a moderator, and not on a comment that
    was hidden or deleted."""
    return [
        media.kind == "photo",
        media.hidden_at.is_(None),
        or_(media.comment_id.is_(None), comment.publicly_visible),
    ]


def first_photos(report_ids: list[int], session: Session) -> dict[int, ListPhoto]:
    """Each report's first photo (by position) that the public may see."""
    if not report_ids:
        return {}
    rows = session.execute(
        select(Media.report_id, *_PHOTO_COLUMNS)
        .outerjoin(Comment, Comment.id == Media.comment_id)
        .where(Media.report_id.in_(report_ids), *_public_photo(Media, Comment))
        .order_by(Media.report_id, Media.position, Media.id)
    )
    photos: dict[int, ListPhoto] = {}
    for row in rows:
        if row.report_id not in photos:
            photos[row.report_id] = _photo_of(row)
    return photos


# The first public photo of a report, by position: page_rows correlates it with its page.
_SHOWN, _ON_COMMENT = aliased(Media, name="shown"), aliased(Comment, name="shown_on")
_FIRST_PHOTO = (
    select(_SHOWN.id)
    .outerjoin(_ON_COMMENT, _ON_COMMENT.id == _SHOWN.comment_id)
    .where(*_public_photo(_SHOWN, _ON_COMMENT))
    .order_by(_SHOWN.position, _SHOWN.id)
    .limit(1)
)
