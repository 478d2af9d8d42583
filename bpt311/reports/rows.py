"""A list's reports as plain rows, not ORM objects (#25 item 3).

``templates/reports/_row.html`` shows a category name (translated), a status, a place in
words, counts and the first photo the public may see. Building a page of ``Report``
objects with three ``selectinload``s for that cost more than rendering them; here a page
is one SELECT with the category and neighbourhood joined, and one small SELECT of the
page's photos, read into frozen dataclasses that answer the same attribute names the row
template uses. Every list that includes the row (the public list and map, a place's
reports, the home page's latest, a watched area) reads its rows here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

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


def list_rows(query: Select, session: Session | None = None) -> list[ListRow]:
    """The rows of ``query`` (a SELECT of Report, filtered, ordered and limited) as plain
    rows, in two queries whatever their number (one when there are none)."""
    session = session or db.session
    found = session.execute(
        query.with_only_columns(*_COLUMNS, maintain_column_froms=False)
        .join_from(Report, Category, Category.id == Report.category_id)
        .outerjoin_from(Report, Neighbourhood, Neighbourhood.id == Report.neighbourhood_id)
    ).all()
    photos = first_photos([row.id for row in found], session)
    return [
        ListRow(
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
            photo=photos.get(row.id),
        )
        for row in found
    ]


def first_photos(report_ids: list[int], session: Session) -> dict[int, ListPhoto]:
    """Each report's first photo (by position) that the public may see: not hidden by a
    moderator, and not on a comment that was hidden or deleted."""
    if not report_ids:
        return {}
    rows = session.execute(
        select(
            Media.report_id,
            Media.thumb_name,
            Media.width,
            Media.height,
            Media.alt_text,
            Media.variant_key,
            Media.variants,
        )
        .outerjoin(Comment, Comment.id == Media.comment_id)
        .where(
            Media.report_id.in_(report_ids),
            Media.kind == "photo",
            Media.hidden_at.is_(None),
            or_(Media.comment_id.is_(None), Comment.publicly_visible),
        )
        .order_by(Media.report_id, Media.position, Media.id)
    )
    photos: dict[int, ListPhoto] = {}
    for report_id, *fields in rows:
        if report_id not in photos:
            photos[report_id] = ListPhoto(*fields)
    return photos
