"""The city's side of a report: departments, the services they offer, and neighbourhoods."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpt311.i18n import translated_option
from bpt311.models.base import Base, utcnow

# none: handled here; email: the department gets an email of each new report; open311:
# sent on to the city's work-order system (bpt311.outbound311).
SEND_METHODS = ("none", "email", "open311")
QUESTION_TYPES = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")


class Department(Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    # Admins' translations of the name: {"es": {"name": ...}, "pt": {...}}
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )
    # How its categories' new reports are sent on unless a category says otherwise
    # (SEND_METHODS); the endpoint for "open311".
    send_method: Mapped[str] = mapped_column(String(10), default="none", server_default="none")
    send_endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("open311_endpoint.id", ondelete="SET NULL")
    )

    categories: Mapped[list[Category]] = relationship(back_populates="department")

    def __repr__(self) -> str:
        return f"<Department {self.name}>"


class Category(Base):
    """A kind of problem residents report: an Open311 *service*."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # The report form's heading, a whole phrase ("Report rodents"): a name can't be dropped
    # into "Report a %s" in every language. Empty: "Report a problem: <name>".
    form_title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    description: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(String(80), index=True)
    keywords: Mapped[str] = mapped_column(Text, default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    sla_hours: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Admins' translations: {"es": {"name": ..., "form_title": ..., "description": ...,
    # "group": ...}, "pt": {...}}
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )

    # How its new reports are sent on: "" as its department says, else one of
    # SEND_METHODS; for "open311" the endpoint, the remote service code if the city system
    # names the service differently ("" = our service_code), and the remote attribute
    # code of each question whose code differs there ({our code: theirs}).
    send_method: Mapped[str] = mapped_column(String(10), default="", server_default="")
    remote_attributes: Mapped[dict[str, str]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )
    send_endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("open311_endpoint.id", ondelete="SET NULL")
    )
    remote_service_code: Mapped[str] = mapped_column(String(64), default="", server_default="")

    department: Mapped[Department] = relationship(back_populates="categories")
    questions: Mapped[list[CategoryQuestion]] = relationship(
        back_populates="category",
        order_by="CategoryQuestion.position",
        cascade="all, delete-orphan",
    )

    @property
    def keyword_list(self) -> list[str]:
        return [word.strip() for word in self.keywords.split(",") if word.strip()]

    def __repr__(self) -> str:
        return f"<Category {self.service_code}>"


class CategoryQuestion(Base):
    """An extra question a category asks: an Open311 *attribute*."""

    __tablename__ = "category_question"
    __table_args__ = (UniqueConstraint("category_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    hint: Mapped[str] = mapped_column(Text, default="")
    datatype: Mapped[str] = mapped_column(String(20))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"key": "small", "name": "Smaller than a dinner plate"}, ...] for list types
    options: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # {"es": {"label": ..., "hint": ..., "options": {"small": ...}}, "pt": {...}}
    translations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")

    category: Mapped[Category] = relationship(back_populates="questions")

    @property
    def is_list(self) -> bool:
        return self.datatype in ("singlevaluelist", "multivaluelist")

    def option_name(self, key: str) -> str:
        """An option's name, as translated for the page's language where it is."""

        for option in self.options or []:
            if option.get("key") == key:
                return translated_option(self, key, option.get("name", key))
        return key

    def display_answer(self, answer: Any) -> str:
        """An answer in words: option names for list questions, the text otherwise."""
        if isinstance(answer, list):
            return ", ".join(self.option_name(str(key)) for key in answer)
        return self.option_name(str(answer)) if self.is_list else str(answer)


class Neighbourhood(Base):
    """One of the city's neighbourhoods, with its polygon as GeoJSON geometry."""

    __tablename__ = "neighbourhood"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    geometry_json: Mapped[str] = mapped_column(Text)
    # Bounding box, kept so a query can prefilter without parsing the polygon.
    min_lat: Mapped[float]
    min_lon: Mapped[float]
    max_lat: Mapped[float]
    max_lon: Mapped[float]

    @property
    def geometry(self) -> dict[str, Any]:
        return json.loads(self.geometry_json)

    def __repr__(self) -> str:
        return f"<Neighbourhood {self.name}>"


class GeocodeCache(Base):
    """Answers from the geocoder, kept so the same address is never looked up twice."""

    __tablename__ = "geocode_cache"
    __table_args__ = (UniqueConstraint("kind", "query"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "search" or "reverse"
    query: Mapped[str] = mapped_column(String(300))
    # [{"latitude": .., "longitude": .., "address": ..}, ...]
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
