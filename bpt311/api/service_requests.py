"""Reports as GeoReport service requests: the query parameters, and one SELECT for any number.

Only public fields leave here: never a contact's name, email or phone, never an
internal note, and nothing of a report a moderator has hidden. Every request is read
by a single Core SELECT (the latest public note and the first photo are correlated
subqueries on indexed columns), so 1 or 1,000 results cost one query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select

from bpt311.api.georeport import w3c_datetime
from bpt311.extensions import db
from bpt311.models import (
    STATUSES,
    Category,
    Department,
    Media,
    Report,
    TimelineEvent,
    looks_like_tracking_number,
    report_id_from_tracking_number,
    utcnow,
)
from bpt311.models.reports import REPORT_PLACE_COLUMNS, tracking_number_for
from bpt311.reports.service import sla_in_words
from bpt311.site import city_zone, site_url

MAX_RESULTS = 1000
DEFAULT_DAYS = 90
# Asked for by page and page_size: smaller pages by default, never more than MAX_RESULTS.
DEFAULT_PAGE_SIZE = 100
OPEN311_STATUSES = ("open", "closed")
SERVICE_CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# A "+" left unencoded in a query string arrives as a space: "...T09:05:00 05:00".
_SPACED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}(?::?\d{2})?)$")
_LEAP_SECOND = re.compile(r"(T\d{2}:\d{2}):60")
DATE_EXAMPLE = "like 2026-11-25T00:00:00Z or 2026-11-25T00:00:00-05:00"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST, LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


class BadQuery(Exception):
    """A query parameter that cannot be understood; str() says which and why."""


@dataclass
class RequestQuery:
    """What ``GET requests`` was asked for. ``None`` means "not asked", ``[]`` "nothing"."""

    report_ids: list[int] | None = None
    service_codes: list[str] | None = None
    statuses: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    page: int | None = None  # 1-based; None with page_size None: the spec's single answer
    page_size: int | None = None

    @property
    def paged(self) -> bool:
        return self.page is not None or self.page_size is not None

    @property
    def limit(self) -> int:
        return (self.page_size or DEFAULT_PAGE_SIZE) if self.paged else MAX_RESULTS

    @property
    def offset(self) -> int:
        return ((self.page or 1) - 1) * self.limit


@cache
def _open311_status_of() -> dict[str, str]:
    """Our four statuses mapped to GeoReport's two, as the model decides them."""
    return {status: Report(status=status).open311_status for status in STATUSES}


# The report a tracking number names; None if it is not one or is too large to exist.
report_id = report_id_from_tracking_number


def clean(text: str | None) -> str:
    """Free text from a client, without the NUL characters no database column can hold.
    (Names and numbers are checked against a pattern instead, which refuses them.)"""
    return (text or "").replace("\x00", "").strip()


def listed(args: Mapping, name: str) -> list[str]:
    """A parameter's values, repeated or comma-separated; empty ones count as absent."""
    values = args.getlist(name) if hasattr(args, "getlist") else [args.get(name, "")]
    return [part for value in values for part in (p.strip() for p in value.split(",")) if part]


def parse_moment(text: str, name: str, *, end_of_day: bool = False) -> datetime:
    """A W3C date-time with ``Z`` or an offset, as aware UTC; a date alone is that whole day
    on the city's clock (its first moment, or with ``end_of_day`` its last).

    A time without a zone is refused: the client's clock and ours may differ by hours, and
    a silently shifted window loses reports. Lenient where RFC 3339 is: lower-case
    ``t``/``z``, a leap second (read as :59), and a ``+`` that arrived as a space. Moments
    beyond the calendar's ends are clamped to them.
    """
    zone = city_zone()
    if _DATE_ONLY.match(text.strip()):
        try:
            day = datetime.fromisoformat(text.strip())
        except ValueError as exc:
            raise BadQuery(f"{name} is not a date in the calendar, {DATE_EXAMPLE}") from exc
        moment = day.replace(tzinfo=zone)
        if end_of_day:
            moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
        return _in_utc(moment)
    cleaned = _SPACED_OFFSET.sub(r"\1+\2", text.strip().upper())
    cleaned = _LEAP_SECOND.sub(r"\1:59", cleaned)
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError as exc:
        raise BadQuery(f"{name} must be a W3C date and time, {DATE_EXAMPLE}") from exc
    if moment.tzinfo is None:
        raise BadQuery(
            f"{name} has no time zone: add Z for UTC or an offset, {DATE_EXAMPLE} "
            "(or send a date alone, like 2026-11-25, for that whole day in Bridgeport)"
        )
    return _in_utc(moment)


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is before the first representable moment
        return EARLIEST if moment.year == 1 else LATEST


def parse_query(args: Mapping) -> RequestQuery:
    """The filters of ``GET requests``; BadQuery for a value that makes no sense (even one
    that ``service_request_id`` then overrides: a client should hear of its mistake)."""
    query = RequestQuery()
    codes = listed(args, "service_code")
    if codes:  # a code that cannot exist matches nothing, like any unknown code
        query.service_codes = [code for code in codes if SERVICE_CODE_RE.match(code)]
    statuses = listed(args, "status")
    if statuses:
        unknown = [status for status in statuses if status.lower() not in OPEN311_STATUSES]
        if unknown:
            raise BadQuery(f"status must be open or closed (or open,closed), not {unknown[0]!r}")
        wanted = {status.lower() for status in statuses}
        query.statuses = [s for s, mapped in _open311_status_of().items() if mapped in wanted]
    start_text = (args.get("start_date") or "").strip()
    end_text = (args.get("end_date") or "").strip()
    query.start = parse_moment(start_text, "start_date") if start_text else None
    query.end = parse_moment(end_text, "end_date", end_of_day=True) if end_text else None
    if query.start and query.end and query.start > query.end:
        raise BadQuery("start_date is after end_date, so nothing can match")
    if query.start and query.end and query.end - query.start > timedelta(days=DEFAULT_DAYS):
        raise BadQuery(
            f"start_date and end_date may be at most {DEFAULT_DAYS} days apart: ask for one "
            "window at a time, or send start_date alone and read it page by page"
        )
    query.page = _whole_number(args, "page", 1, 1_000_000)
    query.page_size = _whole_number(args, "page_size", 1, MAX_RESULTS)

    ids = listed(args, "service_request_id")
    if ids:  # overrides every other filter
        if len(ids) > MAX_RESULTS:
            raise BadQuery(f"Ask for at most {MAX_RESULTS} service_request_id values at once")
        wrong = [text for text in ids if not looks_like_tracking_number(text)]
        if wrong:
            raise BadQuery(
                f"service_request_id {wrong[0]!r} is not one of ours: they look like BPT-000123"
            )
        numbers = [report_id(text) for text in ids]  # None: too large to exist
        return RequestQuery(
            report_ids=[n for n in dict.fromkeys(numbers) if n is not None],
            page=query.page,
            page_size=query.page_size,
        )

    if query.start is None:  # the spec's default: the most recent 90 days
        end = query.end or utcnow()
        window = timedelta(days=DEFAULT_DAYS)
        query.start = end - window if end - EARLIEST > window else EARLIEST
    return query


def _whole_number(args: Mapping, name: str, least: int, most: int) -> int | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    if not text.isdigit() or not least <= int(text) <= most:
        raise BadQuery(f"{name} must be a whole number from {least} to {most:,}, not {text!r}")
    return int(text)


# ---- reading ---------------------------------------------------------------------


def _public_columns() -> Select:
    latest_note = (
        select(TimelineEvent.public_note)
        .where(
            TimelineEvent.report_id == Report.id,
            TimelineEvent.public_note != "",
            TimelineEvent.kind != "comment",  # residents' words are not the city's status
        )
        .order_by(TimelineEvent.created_at.desc(), TimelineEvent.id.desc())
        .limit(1)
        .correlate(Report)
        .scalar_subquery()
    )
    first_photo = (
        select(Media.file_name)
        .where(
            Media.report_id == Report.id,
            Media.kind == "photo",
            Media.hidden_at.is_(None),
            Media.comment_id.is_(None),
        )
        .order_by(Media.position, Media.id)
        .limit(1)
        .correlate(Report)
        .scalar_subquery()
    )
    return (
        select(
            *REPORT_PLACE_COLUMNS,
            Report.created_at,
            Report.updated_at,
            Report.due_at,
            Report.media_url,
            Category.service_code,
            Category.name.label("service_name"),
            Category.sla_hours,
            Department.name.label("agency"),
            latest_note.label("status_notes"),
            first_photo.label("photo"),
        )
        .join(Category, Category.id == Report.category_id)
        .join(Department, Department.id == Report.department_id)
        .where(Report.publicly_visible)
    )


def matching(query: RequestQuery) -> Select:
    """The SELECT of public rows for ``query``, newest first: at most 1,000, or one page
    and the first row of the next (so the caller knows whether there is one)."""
    rows = _public_columns()
    if query.report_ids is not None:
        rows = rows.where(Report.id.in_(query.report_ids))
    else:
        if query.service_codes is not None:
            rows = rows.where(Category.service_code.in_(query.service_codes))
        if query.statuses is not None:
            rows = rows.where(Report.status.in_(query.statuses))
        rows = between_dates(rows, query, Report.created_at)
    return newest_first(rows, query, Report.created_at, Report.id)


def between_dates(rows: Select, query: RequestQuery, moment) -> Select:
    """``rows`` whose ``moment`` is from the query's start to its end (each if given)."""
    if query.start is not None:
        rows = rows.where(moment >= query.start)
    if query.end is not None:
        rows = rows.where(moment <= query.end)
    return rows


def newest_first(rows: Select, query: RequestQuery, moment, row_id) -> Select:
    """``rows`` newest first (by ``moment``, then ``row_id``): one page and the first row
    of the next when the query is paged, else at most MAX_RESULTS."""
    rows = rows.order_by(moment.desc(), row_id.desc())
    if query.paged:
        return rows.offset(query.offset).limit(query.limit + 1)
    return rows.limit(MAX_RESULTS)


# Said to a client whose address_string could not be looked up when it was sent.
LOCATION_NOTICE = (
    " The address could not be looked up just now: the request was accepted with the"
    " address as sent, and its location will be confirmed later (lat and long stay empty"
    " until then)."
)


@cache
def service_notice(sla_hours: int) -> str:
    return f"Expected response time: {sla_in_words(sla_hours)}."


def tracking_number(number: int) -> str:
    return tracking_number_for(number)


def record(row, site_url: str, zone: ZoneInfo) -> dict:
    """One row of :func:`_public_columns` as a GeoReport request, keys in the spec's order,
    ``None`` for empty. (Unpacked by position: a thousand rows a request make it count.)"""
    (
        number,
        status,
        description,
        address,
        latitude,
        longitude,
        created_at,
        updated_at,
        due_at,
        linked_media,
        service_code,
        service_name,
        sla_hours,
        agency,
        status_notes,
        photo,
    ) = row
    return {
        "service_request_id": tracking_number_for(number),
        "status": _open311_status_of().get(status, "open"),
        "status_notes": status_notes or None,
        "service_name": service_name,
        "service_code": service_code,
        "description": description or None,
        "agency_responsible": agency,
        "service_notice": service_notice(sla_hours),
        "requested_datetime": w3c_datetime(created_at, zone),
        "updated_datetime": w3c_datetime(updated_at, zone),
        "expected_datetime": w3c_datetime(due_at, zone),
        "address": address or None,
        "address_id": None,
        "zipcode": None,
        "lat": latitude,
        "long": longitude,
        "media_url": f"{site_url}/media/{quote(photo)}" if photo else (linked_media or None),
    }


def requests_matching(query: RequestQuery) -> tuple[Iterator[dict], bool]:
    """The requests, as an iterator to stream, and whether another page follows."""
    site, zone = site_url(), city_zone()
    rows = db.session.connection().execute(matching(query))
    more = False
    if query.paged:  # a page is at most 1,001 small tuples: read it to know what follows
        rows = rows.all()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
    return (record(row, site, zone) for row in rows), more


def one_request(text: str) -> dict | None:
    """The request a tracking number names, or None (unknown, malformed or hidden)."""
    number = report_id(text)
    if number is None:
        return None
    row = db.session.execute(_public_columns().where(Report.id == number)).first()
    return record(row, site_url(), city_zone()) if row else None


def id_for_token(token: str) -> str | None:
    """Requests are made at once, so a token is the tracking number itself."""
    number = report_id(token)
    if number is None:
        return None
    found = db.session.scalar(select(Report.id).where(Report.id == number, Report.publicly_visible))
    return tracking_number(found) if found else None
