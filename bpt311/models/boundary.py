"""The city's service-area boundary as an administrator uploaded it (the newest row wins)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bpt311.models.base import Base, utcnow


class ServiceBoundary(Base):
    """One uploaded boundary. Rows are only added, so a row's id is the boundary's version:
    every process can cache the parsed shape by it and notice a newer upload at once."""

    __tablename__ = "service_boundary"

    id: Mapped[int] = mapped_column(primary_key=True)
    geometry_json: Mapped[str] = mapped_column(Text)  # a GeoJSON Polygon or MultiPolygon
    source_name: Mapped[str] = mapped_column(String(200), default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<ServiceBoundary {self.id}>"
