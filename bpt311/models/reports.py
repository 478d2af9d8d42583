"""A report of a problem, its photos and videos, and its public timeline."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ColumnElement,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    false,
    true,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bpt311.models.base import Base, utcnow
from bpt311.models.community import Comment
from bpt311.models.people import User
from bpt311.models.places import Category, Department, Neighbourhood

STATUSES = ("open", "acknowledged", "closed", "archived")
# What people read (in their language); STATUS_NAMES stays English for data outputs.
STATUS_LABELS = {
    "open": _l("Open"),
    "acknowledged": _l("Acknowledged"),
    "closed": _l("Closed"),
    "archived": _l("Closed (archived)"),
}
STATUS_NAMES = {
    "open": "Open",
    "acknowledged": "Acknowledged",
    "closed": "Closed",
    "archived": "Closed (archived)",
}
SOURCES = ("web", "kiosk", "api", "staff")
TRACKING_PREFIX = "BPT-"
# The formats a photo's smaller copies are made in, and their files' endings.
VARIANT_EXTENSIONS = {"image/avif": ".avif", "image/webp": ".webp", "image/jpeg": ".jpg"}
# One reading of a typed tracking number for every box that takes one (report pages, the
# search boxes, the kiosk, the API): "BPT-000302", "bpt 302", "BPT302", "#302", "000302", "302".
_TRACKING_RE = re.compile(r"^\s*#?\s*(?:BPT)?[-\s#]*0*(\d{1,12})\s*$", re.IGNORECASE)
_LARGEST_ID = 2**31 - 1  # the integer primary key's range on PostgreSQL


# What programs must send (the Open311 API's ids): the prefix, then the number.
_PREFIXED_RE = re.compile(r"^\s*BPT[-\s]?0*(\d{1,12})\s*$", re.IGNORECASE)


def looks_like_tracking_number(text: str) -> bool:
    """Whether the text has the form of a tracking number with its prefix (whether or not
    one exists): the API's contract, stricter than what people may type in a search box."""
    return bool(_PREFIXED_RE.match(text or ""))


def tracking_number_for(report_id: int) -> str:
    """The number people quote for a report (BPT-000123): the one spelling everywhere."""
    return f"{TRACKING_PREFIX}{report_id:06d}"


def report_id_from_tracking_number(text: str) -> int | None:
    """``BPT-000123`` (or ``bpt 123``, ``BPT123``, ``#123``, ``000123``, ``123``) gives 123;
    anything else, or a number no report can have, gives None."""
    match = _TRACKING_RE.match(text or "")
    if not match:
        return None
    number = int(match.group(1))
    return number if number <= _LARGEST_ID else None


def place_words(address: str, has_point: bool, neighbourhood: str = "") -> str:
    """A place in words: the address, else a neutral phrase with the neighbourhood (never a
    file name, never "Downtown (Downtown)"); for a report, and for a pin not yet sent."""
    if address:
        return address
    if not has_point:
        if neighbourhood:
            return _("Location to be confirmed (%(neighbourhood)s)", neighbourhood=neighbourhood)
        return _("Location to be confirmed")
    if neighbourhood:
        return _("Location on the map (%(neighbourhood)s)", neighbourhood=neighbourhood)
    return _("Location on the map")


def thumb_size_of(width: int | None, height: int | None) -> tuple[int, int] | None:
    """A thumbnail's width and height: a photo of ``width`` x ``height`` scaled to fit
    480 px (media.THUMB_SIDE); for a Media row and for a list's plain photo row."""
    if not width or not height:
        return None
    scale = min(1.0, 480 / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def variant_srcset(variant_key: str, variants, content_type: str) -> list[tuple[str, int, int]]:
    """(file name, width, height) of each stored copy in one format, narrowest first."""
    extension = VARIANT_EXTENSIONS.get(content_type)
    return sorted(
        (f"v/{variant_key}-{width}x{height}{extension}", width, height)
        for kind, width, height in variants or []
        if kind == content_type and extension
    )


class ReportDisplay:
    """What pages say of a report, worked out from its columns: one spelling for the model
    and for a list's plain row (``reports/rows.py``), which the same templates read."""

    __slots__ = ()

    @property
    def tracking_number(self) -> str:
        return tracking_number_for(self.id)

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))

    @property
    def has_point(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def place_label(self) -> str:
        """Where the report is, in words: its address, else a neutral phrase (translated)."""
        return place_words(
            self.address, self.has_point, self.neighbourhood.name if self.neighbourhood else ""
        )


class Report(ReportDisplay, Base):
    __tablename__ = "report"
    __table_args__ = (
        Index("ix_report_status_created", "status", "created_at"),
        Index("ix_report_category_created", "category_id", "created_at"),
        Index("ix_report_neighbourhood_created", "neighbourhood_id", "created_at"),
        Index("ix_report_department_status", "department_id", "status"),
        # The dashboard's desks (open and overdue by department and by assignee), read from
        # the index alone.
        Index("ix_report_desks", "department_id", "status", "due_at", "assignee_id"),
        Index("ix_report_lat_lon", "latitude", "longitude"),
        # The map (reports/clusters.py): its counts and its newest pins in a box read the
        # box, visibility, the commonest filters and the order from this index alone,
        # never the wide report rows.
        Index(
            "ix_report_map",
            "latitude",
            "longitude",
            "hidden_at",
            "status",
            "category_id",
            "created_at",
            "id",
        ),
        Index("ix_report_votes", "vote_count", "id"),
        # The dashboard's counts and response times by when reports were acknowledged or closed.
        Index("ix_report_acknowledged_at", "acknowledged_at"),
        Index("ix_report_closed_at", "closed_at"),
        # The figures of one department, kind or neighbourhood (stats/exact.py): every
        # column they read, so a year of one department is read from the index alone.
        Index(
            "ix_report_figures",
            "department_id",
            "category_id",
            "neighbourhood_id",
            "hidden_at",
            "created_at",
            "acknowledged_at",
            "closed_at",
            "due_at",
        ),
        Index("uq_report_import", "import_source", "import_id", unique=True),
        # AUTOINCREMENT on SQLite so a tracking number is never handed out twice.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    description: Mapped[str] = mapped_column(Text)
    # None while a report sent with only an address waits for the geocoder (location_pending).
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(300), default="")
    # The location is still to be confirmed: an address to geocode (no point yet) or a point
    # to reverse-geocode (no address yet). The sweep's geocoding job retries it with backoff
    # (location_attempts, location_retry_at); staff may place it by hand meanwhile.
    location_pending: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), index=True
    )
    location_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    location_retry_at: Mapped[datetime | None]
    neighbourhood_id: Mapped[int | None] = mapped_column(ForeignKey("neighbourhood.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    # Bumped by every staff change; a form carries the version it was drawn from, so a
    # change made meanwhile by someone else is noticed instead of overwritten.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    # The language the report was made in: emails to a reporter without an account use it.
    locale: Mapped[str] = mapped_column(String(8), default="", server_default="")
    # Every ORM update checks and bumps ``version``: two people saving at once cannot
    # silently overwrite each other (the loser gets StaleDataError).
    __mapper_args__ = {"version_id_col": version}
    contact_name: Mapped[str] = mapped_column(String(120), default="")
    contact_email: Mapped[str] = mapped_column(String(254), default="")
    contact_phone: Mapped[str] = mapped_column(String(40), default="")
    # When the contact details above were erased (retention, or the person's own request).
    contact_erased_at: Mapped[datetime | None]
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    # A guest reporter with an email hears of changes until they unsubscribe.
    notify_contact: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    source: Mapped[str] = mapped_column(String(10), default="web")
    # A photo another app sent by its address (Open311 media_url): linked, never fetched.
    media_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Where an imported report came from (``seeclickfix``, ``open311:host``…) and its id
    # there: unique together, so importing again updates instead of adding.
    import_source: Mapped[str | None] = mapped_column(String(40))
    import_id: Mapped[str | None] = mapped_column(String(100), index=True)  # by old number
    # {question code: answer}; a list for multi-value questions
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("report.id"), index=True)
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # A random key each form carries: a second POST of the same form finds the first report.
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Kept in step by the community service in the same transaction as each vote or
    # comment (an atomic UPDATE ... + 1), so lists can show and sort by them cheaply.
    vote_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    comment_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    category: Mapped[Category] = relationship()
    department: Mapped[Department] = relationship()
    neighbourhood: Mapped[Neighbourhood | None] = relationship()
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    duplicate_of: Mapped[Report | None] = relationship(remote_side=[id])
    media: Mapped[list[Media]] = relationship(
        back_populates="report", order_by="Media.position", cascade="all, delete-orphan"
    )
    events: Mapped[list[TimelineEvent]] = relationship(
        back_populates="report",
        order_by="(TimelineEvent.created_at, TimelineEvent.id)",
        cascade="all, delete-orphan",
    )

    @hybrid_property
    def publicly_visible(self) -> bool:
        """The one rule for who may see a report: anyone, unless moderators hid it (then
        only staff). Every public read uses it, in Python or, on the class, as SQL."""
        return self.hidden_at is None

    @publicly_visible.inplace.expression
    @classmethod
    def _publicly_visible(cls) -> ColumnElement[bool]:
        return cls.hidden_at.is_(None)

    @property
    def is_closed(self) -> bool:
        return self.status in ("closed", "archived")

    def overdue_by(self, now: datetime | None = None) -> timedelta | None:
        """How long past its expected response time an unresolved report is, if it is."""
        if self.is_closed or self.due_at is None:
            return None
        late = (now or utcnow()) - self.due_at
        return late if late > timedelta(0) else None

    @property
    def old_number(self) -> str:
        """How people knew an imported report before: SCF-1234567, or the other id."""
        if not self.import_id:
            return ""
        if self.import_source == "seeclickfix":
            return f"SCF-{self.import_id}"
        return self.import_id

    @property
    def open311_status(self) -> str:
        return "closed" if self.is_closed else "open"

    @property
    def reporter_public_name(self) -> str:
        """Who the public is told reported this: never a name the reporter hid."""
        if self.anonymous or self.reporter is None:
            return _("A resident")
        return self.reporter.public_name

    def __repr__(self) -> str:
        return f"<Report {self.tracking_number} {self.status}>"


# The columns every plain-row read of reports starts with (the lists, the map, the public
# and staff exports, Open311's requests), in this order: Open311 reads its rows by position.
REPORT_PLACE_COLUMNS = (
    Report.id,
    Report.status,
    Report.description,
    Report.address,
    Report.latitude,
    Report.longitude,
)


class Media(Base):
    """A photo or video attached to a report, as stored after processing."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    # A photo added with a comment (or a reopening) belongs to that comment.
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))  # "photo" or "video"
    file_name: Mapped[str] = mapped_column(String(200), unique=True)
    thumb_name: Mapped[str] = mapped_column(String(200), default="")
    content_type: Mapped[str] = mapped_column(String(80))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None]
    height: Mapped[int | None]
    alt_text: Mapped[str] = mapped_column(String(300), default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    hidden_at: Mapped[datetime | None]
    hidden_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Smaller AVIF/WebP/JPEG copies for srcset, as [content type, width, height], stored
    # as v/<variant_key>-<width>x<height>.<ext> (storage.attach_variants). Photos from
    # before they existed have none and show their thumbnail alone.
    variant_key: Mapped[str] = mapped_column(String(32), default="", server_default="", index=True)
    variants: Mapped[list | None] = mapped_column(JSON)
    # With a job queue the copies are made after the upload (bpt311/jobs): "processing"
    # until then, "ready" once made (or never needed), "failed" after the last retry.
    processing_state: Mapped[str] = mapped_column(
        String(12), default="ready", server_default="ready", index=True
    )

    report: Mapped[Report] = relationship(back_populates="media")
    comment: Mapped[Comment | None] = relationship()

    @property
    def publicly_visible(self) -> bool:
        """The one rule for serving a photo or video (and its copies) to the public: not
        hidden itself, on a report the public may see, and, with a comment, on a comment
        the public may read (neither hidden nor deleted)."""
        return (
            self.hidden_at is None
            and self.report.publicly_visible
            and (self.comment is None or self.comment.publicly_visible)
        )

    def visible_to(self, user) -> bool:
        """Whether ``user`` may have the file: the public rule, or staff, who see all."""
        return self.publicly_visible or bool(getattr(user, "is_staff", False))

    @property
    def thumb_size(self) -> tuple[int, int] | None:
        """The thumbnail's width and height: the photo scaled to fit 480 px (media.THUMB_SIDE)."""
        return thumb_size_of(self.width, self.height)

    def srcset(self, content_type: str) -> list[tuple[str, int, int]]:
        """(file name, width, height) of each copy in one format, narrowest first."""
        return variant_srcset(self.variant_key, self.variants, content_type)


EVENT_KINDS = (
    "submitted",
    "acknowledged",
    "assigned",
    "recategorised",
    "closed",
    "reopened",
    "archived",
    "duplicate",
    "comment",
    "note",
    "edited",
    "withdrawn",
    "hidden",
    "restored",
)


class ImportedPhoto(Base):
    """A photo address an imported report came with, waiting for the sweep to fetch it
    (bpt311/imports/photos.py): "waiting", then "done", or "failed" after its last try
    (``error`` says why; the report keeps its linked ``media_url``)."""

    __tablename__ = "imported_photo"
    __table_args__ = (Index("ix_imported_photo_state_retry", "state", "retry_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(10), default="waiting", server_default="waiting")
    error: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[Report] = relationship()


class TimelineEvent(Base):
    """One step in a report's life, shown publicly unless it only has an internal note."""

    __tablename__ = "timeline_event"
    __table_args__ = (Index("ix_timeline_event_report_created", "report_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # What the public is told about who acted: a department, "The reporter", ...
    actor_label: Mapped[str] = mapped_column(String(120), default="")
    public_note: Mapped[str] = mapped_column(Text, default="")
    internal_note: Mapped[str] = mapped_column(Text, default="")
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comment.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    report: Mapped[Report] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
    comment: Mapped[Comment | None] = relationship()

    @property
    def is_public(self) -> bool:
        return self.kind != "note" or bool(self.public_note)


DAILY_BANDS = 140  # response-time bands of the daily summary (bpt311/reports/daily.py)

# The figures' daily summary (bpt311/reports/daily.py): for one city day (``span`` 1) or
# the Monday-to-Sunday week starting on ``day`` (``span`` 7: the sum of its days), one
# group (level 0 the whole city, 1 a department, 2 a kind of problem, 3 a neighbourhood;
# ``group_id`` its id, 0 for the city or for no neighbourhood), hidden or not, and one kind
# (0 received, 1 acknowledged, 2 closed): how many, how many of the closed were within
# their SLA, and the response times as a histogram (``b0`` … one count per band).
# Derived from ``report`` alone: ``flask stats rebuild`` makes it again from scratch.
daily_figure = Table(
    "daily_figure",
    Base.metadata,
    Column("day", Date, primary_key=True),
    Column("span", SmallInteger, primary_key=True),
    Column("level", SmallInteger, primary_key=True),
    Column("group_id", Integer, primary_key=True),
    Column("hidden", Boolean, primary_key=True),
    Column("kind", SmallInteger, primary_key=True),
    Column("reports", Integer, nullable=False),
    Column("in_time", Integer, nullable=False, server_default="0"),
    *(Column(f"b{n}", Integer, nullable=False, server_default="0") for n in range(DAILY_BANDS)),
)
