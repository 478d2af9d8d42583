"""What residents add to a report: votes, follows, comments, and flags for moderators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    and_,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpt311.models.base import Base, utcnow
from bpt311.models.people import User

FLAG_TARGETS = ("report", "comment", "media")


class Vote(Base):
    """One person's "me too" on a report; unique, so concurrent clicks count once."""

    __tablename__ = "vote"
    __table_args__ = (UniqueConstraint("report_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Follow(Base):
    """Someone who hears about a report's changes by email."""

    __tablename__ = "follow"
    __table_args__ = (UniqueConstraint("report_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class EmailSubscription(Base):
    """An address with no account that gets a report's update emails, as followers do.
    Written only once the address followed the link we sent it, so every row is a
    confirmed address (``email`` is kept lower-case)."""

    __tablename__ = "email_subscription"
    __table_args__ = (UniqueConstraint("report_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254), index=True)
    locale: Mapped[str] = mapped_column(String(8), default="", server_default="")
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(Base):
    """A resident's or the city's words on a report, shown in its timeline."""

    __tablename__ = "comment"
    __table_args__ = (Index("ix_comment_report_created", "report_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    by_city: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str] = mapped_column(Text, default="", server_default="")

    author: Mapped[User | None] = relationship()

    @hybrid_property
    def publicly_visible(self) -> bool:
        """The one rule for who may read a comment: neither deleted by its writer nor
        hidden by moderators. On the class, the same rule as SQL."""
        return self.deleted_at is None and self.hidden_at is None

    @publicly_visible.inplace.expression
    @classmethod
    def _publicly_visible(cls) -> ColumnElement[bool]:
        return and_(cls.deleted_at.is_(None), cls.hidden_at.is_(None))


class Flag(Base):
    """A report, comment or photo someone thinks is inappropriate; one per person per thing."""

    __tablename__ = "flag"
    __table_args__ = (
        UniqueConstraint("user_id", "target_type", "target_id"),
        Index("ix_flag_target", "target_type", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    target_type: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int]
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolution: Mapped[str] = mapped_column(String(20), default="")
