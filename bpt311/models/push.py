"""Web Push: the devices a resident turned notifications on for, and the pushes queued
for them (sent later by the notify worker, as emails are)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpt311.models.base import Base, utcnow
from bpt311.models.people import User


class PushSubscription(Base):
    """One browser on one device that accepted notifications, as its push service gave it.

    ``endpoint_hash`` (sha256 of the endpoint) is the unique key: endpoints can be
    longer than an index allows on every engine.
    """

    __tablename__ = "push_subscription"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    endpoint: Mapped[str] = mapped_column(Text)
    endpoint_hash: Mapped[str] = mapped_column(String(64), unique=True)
    p256dh: Mapped[str] = mapped_column(String(120))
    auth: Mapped[str] = mapped_column(String(40))
    reports: Mapped[bool] = mapped_column(Boolean, default=True)  # reports filed or followed
    areas: Mapped[bool] = mapped_column(Boolean, default=True)  # watch areas
    device_label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sent_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()

    @property
    def info(self) -> dict:
        """The shape pywebpush and the browser's PushSubscription.toJSON() share."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class PushMessage(Base):
    """A notification waiting to be pushed to one device; claimed and retried like
    ``Outbox`` rows (see bpt311.notify)."""

    __tablename__ = "push_message"
    __table_args__ = (Index("ix_push_message_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("push_subscription.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sent, dead
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("report.id", ondelete="SET NULL"))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str] = mapped_column(String(80), default="")
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    subscription: Mapped[PushSubscription] = relationship()
