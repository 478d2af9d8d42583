"""Watch areas residents draw on the map, who follows them, and what they were told."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
    exists,
    or_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpt311.models.base import Base, utcnow
from bpt311.models.community import Comment
from bpt311.models.people import User
from bpt311.models.places import Category, Neighbourhood
from bpt311.models.reports import Report

AREA_SHAPES = ("polygon", "circle", "neighbourhood")
DELIVERIES = ("email", "digest", "none")  # "none": on the site and in the feed only
NOTICE_KINDS = ("new", "status", "comment")


class WatchArea(Base):
    """A place someone wants to hear about: a drawn polygon, a circle, or a neighbourhood.

    The shape is kept as GeoJSON in lon/lat (a Point for a circle, with ``radius_m``)
    and its bounding box in four indexed columns, so matching a report asks the
    database only for the few areas whose box holds the point.
    """

    __tablename__ = "watch_area"
    __table_args__ = (Index("ix_watch_area_bbox", "min_lat", "max_lat", "min_lon", "max_lon"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    shape: Mapped[str] = mapped_column(String(15))  # one of AREA_SHAPES
    geometry_json: Mapped[str] = mapped_column(Text)
    radius_m: Mapped[float | None] = mapped_column(Float)
    neighbourhood_id: Mapped[int | None] = mapped_column(
        ForeignKey("neighbourhood.id", ondelete="SET NULL")
    )
    # Where it is, in words: the address a circle was drawn around, or the neighbourhood.
    place_label: Mapped[str] = mapped_column(String(300), default="")
    min_lat: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    wants_new: Mapped[bool] = mapped_column(Boolean, default=True)
    wants_status: Mapped[bool] = mapped_column(Boolean, default=True)
    wants_comments: Mapped[bool] = mapped_column(Boolean, default=False)
    # False: only the categories in watch_area_category.
    all_categories: Mapped[bool] = mapped_column(Boolean, default=True)
    delivery: Mapped[str] = mapped_column(String(10), default="email")  # the owner's
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    # Pausing silences the owner only; followers of a public area still hear.
    paused_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship()
    neighbourhood: Mapped[Neighbourhood | None] = relationship()
    categories: Mapped[list[Category]] = relationship(
        secondary="watch_area_category", order_by="Category.name"
    )

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    def wants(self, kind: str) -> bool:
        return {
            "new": self.wants_new,
            "status": self.wants_status,
            "comment": self.wants_comments,
        }.get(kind, False)

    def __repr__(self) -> str:
        return f"<WatchArea {self.id} {self.shape} {self.name!r}>"


class WatchAreaCategory(Base):
    """One category an area listens for, when it does not listen for all of them."""

    __tablename__ = "watch_area_category"
    __table_args__ = (Index("ix_watch_area_category_category", "category_id", "area_id"),)

    area_id: Mapped[int] = mapped_column(
        ForeignKey("watch_area.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("category.id", ondelete="CASCADE"), primary_key=True
    )


class WatchAreaFollow(Base):
    """Someone other than the owner who hears about a public area, in their own way."""

    __tablename__ = "watch_area_follow"
    __table_args__ = (UniqueConstraint("area_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("watch_area.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    delivery: Mapped[str] = mapped_column(String(10), default="digest")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    area: Mapped[WatchArea] = relationship()
    user: Mapped[User] = relationship()


class WatchEvent(Base):
    """Something that happened to a report that watchers were told about: one per
    announcement, however many people heard of it."""

    __tablename__ = "watch_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))  # one of NOTICE_KINDS
    headline: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When its watchers were told: at once without a job queue, else by the "watch" job
    # (the sweep finds the ones still NULL). Until then, what the job needs to decide as
    # the request would have: who acted, and who was already emailed or pushed about the
    # report in the same transaction ({"emails": [...], "pushed": [user ids]}).
    # Both are cleared once fanned out. actor_id has no foreign key: SQLite cannot add one
    # without rebuilding the table (and so dropping its notices); an erased actor is no
    # watcher anyway.
    fanned_out_at: Mapped[datetime | None] = mapped_column(index=True)
    actor_id: Mapped[int | None]
    already_told: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The comment a "comment" event is about: its notices go with it when it is hidden or
    # deleted. No foreign key, like actor_id (comments are only ever deleted with their
    # report, and its events go with it).
    comment_id: Mapped[int | None] = mapped_column(index=True)

    report: Mapped[Report] = relationship()
    comment: Mapped[Comment | None] = relationship(
        primaryjoin="foreign(WatchEvent.comment_id) == Comment.id", viewonly=True
    )

    @hybrid_property
    def publicly_visible(self) -> bool:
        """Whether watchers may still read of it: its report and, for a comment, the
        comment may be seen by the public (Report and Comment.publicly_visible)."""
        return self.report.publicly_visible and (
            self.comment_id is None or (self.comment is not None and self.comment.publicly_visible)
        )

    @publicly_visible.inplace.expression
    @classmethod
    def _publicly_visible(cls) -> ColumnElement[bool]:
        report = exists().where(Report.id == cls.report_id, Report.publicly_visible)
        comment = exists().where(Comment.id == cls.comment_id, Comment.publicly_visible)
        return and_(report, or_(cls.comment_id.is_(None), comment))


class Notice(Base):
    """One person told of one event: the in-site list, the digest and the emails all come
    from these rows, and the unique key makes it once per person however areas overlap."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        Index("ix_notice_user_read", "user_id", "read_at"),
        Index("ix_notice_digest", "delivery", "digested_at", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("watch_event.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # The area that matched (the owner's own first, then the one with the loudest delivery).
    area_id: Mapped[int | None] = mapped_column(
        ForeignKey("watch_area.id", ondelete="SET NULL"), index=True
    )
    delivery: Mapped[str] = mapped_column(String(10))  # as chosen when the event happened
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]
    digested_at: Mapped[datetime | None]

    event: Mapped[WatchEvent] = relationship()
    area: Mapped[WatchArea | None] = relationship()
