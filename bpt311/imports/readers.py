"""Readers of other systems' reports, each yielding :class:`Incoming` records (or a
:class:`BadRecord` for one that cannot be read, which the importer lists as skipped).

- :func:`from_open311`: any GeoReport v2 server (SeeClickFix's, FixMyStreet's, another
  bpt311), in date windows of at most 90 days; pages followed by ``Link: rel=next`` where
  the server offers them, and a full window (1,000 results, no next page) split in two
  until nothing is cut off.
- :func:`from_seeclickfix`: SeeClickFix API v2 issue JSON, one file or a folder of pages.
- :func:`from_csv`: any spreadsheet export, with a column map.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from bpt311.imports.records import (
    BadRecord,
    Incoming,
    IncomingComment,
    coordinate,
    moment,
    status_of,
)

WINDOW = timedelta(days=90)
SPEC_LIMIT = 1000
TIMEOUT = (5, 60)  # connect, read: a slow page is waited for, a dead server is not
SMALLEST_WINDOW = timedelta(minutes=1)
CITY_ROLES = ("verified official", "official", "staff", "admin", "employee")


def _bad(source_id: str, message: str) -> BadRecord:
    error = BadRecord(message)
    error.source_id = source_id
    return error


# ---- GeoReport v2 ----------------------------------------------------------------------


class SourceUnavailable(Exception):
    """The other server could not be read; str() says what it answered."""


def _get(http: requests.Session, url: str, params: Mapping | None = None):
    try:
        response = http.get(url, params=params, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise SourceUnavailable(f"{url}: {exc.__class__.__name__}: {exc}") from exc
    if response.status_code != 200:
        raise SourceUnavailable(
            f"{response.url} answered {response.status_code}: {response.text[:300]}"
        )
    try:
        return response, response.json()
    except ValueError as exc:
        raise SourceUnavailable(f"{response.url} did not answer JSON") from exc


def _w3c(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_open311(
    root: str,
    *,
    since: datetime,
    until: datetime,
    api_key: str = "",
    jurisdiction: str = "",
    http: requests.Session | None = None,
) -> Iterator[Incoming | BadRecord]:
    """Every request created between ``since`` and ``until`` on the GeoReport server at
    ``root`` (the address that ``services.json`` is under)."""
    http = http or requests.Session()
    root = root.rstrip("/")
    base = {
        key: value
        for key, value in (("api_key", api_key), ("jurisdiction_id", jurisdiction))
        if value
    }
    _, services = _get(http, f"{root}/services.json", base)
    names = {
        str(service.get("service_code")): str(service.get("service_name") or "")
        for service in services
        if isinstance(service, dict)
    }
    start = since
    while start < until:
        end = min(start + WINDOW, until)
        yield from _window(http, root, base, names, start, end)
        start = end


def _window(http, root, base, names, start: datetime, end: datetime):
    params = {**base, "start_date": _w3c(start), "end_date": _w3c(end)}
    response, found = _get(http, f"{root}/requests.json", params)
    cut_off = len(found) >= SPEC_LIMIT and "next" not in response.links
    if cut_off and end - start > SMALLEST_WINDOW:
        # The spec's 1,000 and no pages offered: ask for each half instead.
        middle = start + (end - start) / 2
        yield from _window(http, root, base, names, start, middle)
        yield from _window(http, root, base, names, middle, end)
        return
    for item in found:
        yield _open311_record(item, names)
    while "next" in response.links:
        response, found = _get(http, response.links["next"]["url"])
        for item in found:
            yield _open311_record(item, names)


def _open311_record(item: Mapping, names: Mapping[str, str]) -> Incoming | BadRecord:
    source_id = str(item.get("service_request_id") or item.get("token") or "").strip()
    if not source_id:
        return _bad("", "a request without service_request_id")
    try:
        status = status_of(item.get("status"))
        updated = moment(item.get("updated_datetime"), "updated_datetime")
        created = moment(item.get("requested_datetime"), "requested_datetime")
        if created is None:
            raise BadRecord("no requested_datetime")
        code = str(item.get("service_code") or "")
        return Incoming(
            source_id=source_id,
            category=code or str(item.get("service_name") or ""),
            description=str(item.get("description") or ""),
            latitude=coordinate(item.get("lat"), "lat"),
            longitude=coordinate(item.get("long"), "long"),
            created_at=created,
            status=status,
            address=str(item.get("address") or ""),
            closed_at=updated if status == "closed" else None,
            updated_at=updated,
            status_notes=str(item.get("status_notes") or ""),
            agency=str(item.get("agency_responsible") or ""),
            media_urls=[str(item["media_url"])] if item.get("media_url") else [],
        )
    except BadRecord as exc:
        return _bad(source_id, str(exc))


# ---- SeeClickFix -----------------------------------------------------------------------


def from_seeclickfix(path: str | Path) -> Iterator[Incoming | BadRecord]:
    """Issues from SeeClickFix API v2 pages: one JSON file, or every ``*.json`` in a folder
    (in name order). A page is a list, or an object with ``issues`` or ``result``."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    for file in files:
        try:
            page = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            yield _bad("", f"{file.name}: not readable JSON ({exc})")
            continue
        issues = page if isinstance(page, list) else page.get("issues") or page.get("result") or []
        for issue in issues:
            yield (
                _seeclickfix_record(issue)
                if isinstance(issue, dict)
                else _bad("", f"{file.name}: an issue that is not an object")
            )


def _name_of(value) -> str:
    if isinstance(value, dict):
        return str(value.get("title") or value.get("name") or value.get("summary") or "")
    return str(value or "")


def _seeclickfix_record(issue: Mapping) -> Incoming | BadRecord:
    source_id = str(issue.get("id") or "").strip()
    if not source_id:
        return _bad("", "an issue without id")
    try:
        created = moment(issue.get("created_at"), "created_at")
        if created is None:
            raise BadRecord("no created_at")
        media = issue.get("media") or {}
        photos = [media.get("image_full")] if isinstance(media, dict) else []
        comments = []
        for entry in issue.get("comments") or []:
            if not isinstance(entry, dict):
                continue
            commenter = entry.get("commenter") or {}
            role = str(commenter.get("role") or "").lower() if isinstance(commenter, dict) else ""
            comments.append(
                IncomingComment(
                    author=_name_of(commenter),
                    text=str(entry.get("comment") or ""),
                    created_at=moment(entry.get("created_at"), "a comment's created_at") or created,
                    by_city=any(word in role for word in CITY_ROLES),
                )
            )
        answers = {
            str(q.get("question") or "")[:200]: str(q.get("answer") or "")[:500]
            for q in issue.get("questions") or []
            if isinstance(q, dict) and q.get("question")
        }
        kind = _name_of(issue.get("request_type")) or str(issue.get("summary") or "")
        return Incoming(
            source_id=source_id,
            category=kind,
            description=str(issue.get("description") or issue.get("summary") or ""),
            latitude=coordinate(issue.get("lat"), "lat"),
            longitude=coordinate(issue.get("lng"), "lng"),
            created_at=created,
            status=status_of(issue.get("status")),
            address=str(issue.get("address") or ""),
            acknowledged_at=moment(issue.get("acknowledged_at"), "acknowledged_at"),
            closed_at=moment(issue.get("closed_at"), "closed_at"),
            updated_at=moment(issue.get("updated_at"), "updated_at"),
            media_urls=[str(url) for url in photos if url],
            comments=comments,
            answers=answers,
            vote_count=int(issue.get("vote_count") or 0),
            link=str(issue.get("html_url") or ""),
        )
    except (BadRecord, TypeError, ValueError) as exc:
        return _bad(source_id, str(exc))


# ---- CSV ---------------------------------------------------------------------------------

# The fields a column map may name; id, category, created_at and lat/lng are required.
CSV_FIELDS = (
    "id",
    "category",
    "description",
    "lat",
    "lng",
    "address",
    "created_at",
    "status",
    "acknowledged_at",
    "closed_at",
    "updated_at",
    "notes",
    "agency",
    "photo_url",
    "votes",
)
CSV_REQUIRED = ("id", "category", "created_at", "lat", "lng")


def parse_column_map(text: str) -> dict[str, str]:
    """``id=Ticket,category=Type,...`` or the path of a JSON object of the same, as
    {our field: their column}."""
    candidate = Path(text)
    if candidate.suffix.lower() == ".json" and candidate.is_file():
        pairs = json.loads(candidate.read_text(encoding="utf-8"))
    else:
        pairs = {}
        for part in text.split(","):
            field, equals, column = part.partition("=")
            if not equals:
                raise ValueError(f"{part!r} is not field=column")
            pairs[field.strip()] = column.strip()
    unknown = sorted(set(pairs) - set(CSV_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown fields {', '.join(unknown)}; the fields are {', '.join(CSV_FIELDS)}"
        )
    missing = [field for field in CSV_REQUIRED if field not in pairs]
    if missing:
        raise ValueError(f"the map must name a column for {', '.join(missing)}")
    return pairs


def from_csv(path: str | Path, columns: Mapping[str, str]) -> Iterator[Incoming | BadRecord]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        rows = csv.DictReader(handle)
        absent = [column for column in columns.values() if column not in (rows.fieldnames or [])]
        if absent:
            raise ValueError(f"the file has no column {', '.join(repr(c) for c in absent)}")
        for number, row in enumerate(rows, start=2):  # line 1 is the header
            yield _csv_record(number, row, columns)


def _csv_record(number: int, row: Mapping[str, str], columns: Mapping[str, str]):
    def value(field: str) -> str:
        column = columns.get(field)
        return (row.get(column) or "").strip() if column else ""

    source_id = value("id")
    if not source_id:
        return _bad(f"line {number}", f"line {number}: no id")
    try:
        created = moment(value("created_at"), "created_at")
        if created is None:
            raise BadRecord("no created_at")
        votes = value("votes")
        return Incoming(
            source_id=source_id,
            category=value("category"),
            description=value("description"),
            latitude=coordinate(value("lat"), "lat"),
            longitude=coordinate(value("lng"), "lng"),
            created_at=created,
            status=status_of(value("status")),
            address=value("address"),
            acknowledged_at=moment(value("acknowledged_at"), "acknowledged_at"),
            closed_at=moment(value("closed_at"), "closed_at"),
            updated_at=moment(value("updated_at"), "updated_at"),
            status_notes=value("notes"),
            agency=value("agency"),
            media_urls=[value("photo_url")] if value("photo_url") else [],
            vote_count=int(votes) if votes.isdigit() else 0,
        )
    except BadRecord as exc:
        return _bad(source_id, f"line {number}: {exc}")
