"""Sending reports on to the city's work-order system over Open311 (GeoReport v2).

- :class:`Open311Endpoint`: a city system we send to (its root URL and API key).
- :class:`OutboundRequest`: one report to send to one endpoint: a durable row made in the
  report's own transaction, then claimed, sent, retried with backoff, or given up.
- :class:`RemoteUpdate`: an update read back from an endpoint, kept so that each is applied
  once, however often ``flask open311 sync`` runs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpt311.models.base import Base, utcnow

# pending: to send (or to retry at retry_at); sent: the city system has it;
# refused: it answered 400 with its reasons (staff see them); dead: given up after
# OPEN311_SEND_MAX_ATTEMPTS failures (admins see it).
SEND_STATES = ("pending", "sent", "refused", "dead")


class Open311Endpoint(Base):
    __tablename__ = "open311_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    root_url: Mapped[str] = mapped_column(String(500))
    # Stored to send with each request; never printed or shown again.
    api_key: Mapped[str] = mapped_column(String(200), default="")
    jurisdiction: Mapped[str] = mapped_column(String(100), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The newest updated_datetime read from its updates feed: the next sync starts there.
    sync_cursor: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Open311Endpoint {self.name}>"


class OutboundRequest(Base):
    __tablename__ = "outbound_request"
    __table_args__ = (UniqueConstraint("report_id", "endpoint_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("open311_endpoint.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(12), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_at: Mapped[datetime | None]
    # A sender holds the row until then: no other sender may post it meanwhile.
    lease_until: Mapped[datetime | None]
    remote_request_id: Mapped[str] = mapped_column(String(100), default="", server_default="")
    remote_token: Mapped[str] = mapped_column(String(100), default="", server_default="")
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report = relationship("Report")
    endpoint: Mapped[Open311Endpoint] = relationship()


class RemoteUpdate(Base):
    __tablename__ = "open311_remote_update"
    __table_args__ = (UniqueConstraint("endpoint_id", "update_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("open311_endpoint.id", ondelete="CASCADE"))
    update_id: Mapped[str] = mapped_column(String(120))
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
