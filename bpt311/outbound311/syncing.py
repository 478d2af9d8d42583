"""The answers of the city's work-order system brought back (Open311 GeoReport v2).

Bringing answers back (:func:`sync_endpoint`, ``flask open311 sync``): the endpoint's
``servicerequestupdates.json`` since the last sync (else, if it serves none,
``requests.json?service_request_id=...`` for our reports still open there). Each update is
applied once (kept as a :class:`RemoteUpdate`): a lifecycle move made by the system
(acknowledge, close, reopen), or a note, on the public timeline in the endpoint's name,
and the report's followers and watchers are told, as when staff change a status.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bpt311 import effects, public_cache
from bpt311.community.following import tell_followers
from bpt311.extensions import db
from bpt311.models import (
    Open311Endpoint,
    OutboundRequest,
    RemoteUpdate,
    Report,
    TimelineEvent,
    utcnow,
)
from bpt311.outbound311.endpoints import ERROR_MAX, RemoteUnavailable, get, json_from
from bpt311.reports import lifecycle
from bpt311.watchers.events import announce

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=1)  # each sync reads a little before its cursor: nothing falls between
IDS_PER_QUERY = 50
PAGE_SIZE, MAX_PAGES = 500, 200  # updates read per page, and pages at most per sync
SYNC_TRIED = "bpt311.outbound311.sync_tried"  # endpoint id -> when this process last tried it
HEADLINES = {  # the same words as staff changes, in the endpoint's name
    "acknowledged": "%(department)s acknowledged it",
    "closed": "%(department)s closed it",
    "reopened": "%(department)s reopened it",
    "note": "%(department)s added a note",
}


def _moment(text) -> datetime | None:
    try:
        found = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _w3c(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _resolve_tokens(endpoint: Open311Endpoint) -> None:
    rows = db.session.execute(
        select(OutboundRequest.id, OutboundRequest.remote_token).where(
            OutboundRequest.endpoint_id == endpoint.id,
            OutboundRequest.state == "sent",
            OutboundRequest.remote_request_id == "",
            OutboundRequest.remote_token != "",
        )
    ).all()
    for row_id, token in rows:
        try:
            found = json_from(
                get(endpoint.root_url, f"tokens/{quote(token, safe='')}.json"), endpoint.root_url
            )
        except RemoteUnavailable as exc:
            log.info("Token %s at %s: not resolved yet: %s", token, endpoint.name, exc)
            continue
        item = found[0] if isinstance(found, list) and found else found
        request_id = str(item.get("service_request_id") or "") if isinstance(item, dict) else ""
        if request_id:
            db.session.execute(
                update(OutboundRequest)
                .where(OutboundRequest.id == row_id)
                .values(remote_request_id=request_id[:100])
                .execution_options(synchronize_session=False)
            )
    effects.commit()


def _updates(endpoint: Open311Endpoint, since: datetime | None) -> Iterator[dict]:
    """The endpoint's updates feed from ``since``, page after page while it links a next
    one (a server that does not page answers once); LookupError if it serves none (404),
    RemoteUnavailable if it cannot be read."""
    params: dict[str, str | int] = {"start_date": _w3c(since)} if since else {}
    if endpoint.jurisdiction:
        params["jurisdiction_id"] = endpoint.jurisdiction
    for page in range(1, MAX_PAGES + 1):
        response = get(
            endpoint.root_url,
            "servicerequestupdates.json",
            {**params, "page": page, "page_size": PAGE_SIZE},
        )
        if response.status_code == 404:
            raise LookupError("no updates feed")
        found = json_from(response, endpoint.root_url)
        if not isinstance(found, list):
            raise RemoteUnavailable(f"{endpoint.root_url}: the updates feed is not a list")
        yield from (item for item in found if isinstance(item, dict))
        if "next" not in response.links:
            return
    raise RemoteUnavailable(f"{endpoint.root_url}: more than {MAX_PAGES} pages of updates")


def _request_states(endpoint: Open311Endpoint) -> Iterator[dict]:
    """Without an updates feed: our requests still open there, as updates."""
    ids = db.session.scalars(
        select(OutboundRequest.remote_request_id)
        .join(Report, Report.id == OutboundRequest.report_id)
        .where(
            OutboundRequest.endpoint_id == endpoint.id,
            OutboundRequest.state == "sent",
            OutboundRequest.remote_request_id != "",
            Report.status.in_(("open", "acknowledged", "closed")),
        )
    ).all()
    for start in range(0, len(ids), IDS_PER_QUERY):
        chunk = ids[start : start + IDS_PER_QUERY]
        params = {"service_request_id": ",".join(chunk)}
        found = json_from(get(endpoint.root_url, "requests.json", params), endpoint.root_url)
        for item in found if isinstance(found, list) else ():
            if not isinstance(item, dict):
                continue
            yield {
                "update_id": f"request:{item.get('service_request_id')}:{item.get('status')}:"
                f"{item.get('updated_datetime')}",
                "service_request_id": item.get("service_request_id"),
                "status": item.get("status"),
                "updated_datetime": item.get("updated_datetime"),
                "description": item.get("status_notes") or "",
            }


def _move_for(remote_status: str, status: str) -> str | None:
    if remote_status == "closed" and status in ("open", "acknowledged"):
        return "close"
    if remote_status == "open" and status == "closed":
        return "reopen"
    if remote_status == "open" and status == "open":
        return "acknowledge"  # the city system wrote something on it: it is on it
    return None


def _apply(endpoint: Open311Endpoint, item: dict) -> bool:
    """One update, once: the report's move and public note, and who is told."""
    update_id = str(item.get("update_id") or "")[:120]
    request_id = str(item.get("service_request_id") or "")
    if not update_id or not request_id:
        return False
    row = db.session.scalars(
        select(OutboundRequest).where(
            OutboundRequest.endpoint_id == endpoint.id,
            OutboundRequest.remote_request_id == request_id,
        )
    ).first()
    if row is None:
        return False  # not one of ours
    seen = db.session.scalar(
        select(RemoteUpdate.id).where(
            RemoteUpdate.endpoint_id == endpoint.id, RemoteUpdate.update_id == update_id
        )
    )
    if seen is not None:
        return False
    db.session.add(
        RemoteUpdate(endpoint_id=endpoint.id, update_id=update_id, report_id=row.report_id)
    )
    when = _moment(item.get("updated_datetime"))
    report = row.report
    if (when is not None and row.sent_at is not None and when <= row.sent_at) or (
        report.status == "archived"
    ):
        effects.commit()  # its own arrival there (or too late to matter): nothing to tell
        return False
    now = utcnow()
    note = str(item.get("description") or "").strip()[:ERROR_MAX]
    move_name = _move_for(str(item.get("status") or "").lower(), report.status)
    kind = "note"
    if move_name is not None:
        kind = lifecycle.move(report, move_name, lifecycle.SYSTEM, now).event
    elif not note:
        effects.commit()
        return False
    db.session.add(
        TimelineEvent(
            report=report,
            kind=kind,
            actor_label=endpoint.name[:120],
            public_note=note,
            created_at=now,
        )
    )
    headline = _l(HEADLINES[kind], department=endpoint.name)
    tell_followers(report, headline, note)
    announce(report, "status", note=note)
    try:
        effects.after_commit(public_cache.changed, report.tracking_number)
        effects.commit()
    except IntegrityError:  # another sync applied it meanwhile
        effects.rollback()
        return False
    return True


def sync_endpoint(endpoint: Open311Endpoint) -> int:
    """Bring the endpoint's answers back; returns how many updates were applied."""
    endpoint_id, name = endpoint.id, endpoint.name
    _resolve_tokens(endpoint)
    first_sent = db.session.scalar(
        select(func.min(OutboundRequest.sent_at)).where(
            OutboundRequest.endpoint_id == endpoint_id, OutboundRequest.state == "sent"
        )
    )
    if first_sent is None:
        return 0  # nothing there of ours yet
    since = max(endpoint.sync_cursor or first_sent, first_sent) - OVERLAP
    try:
        items = list(_updates(endpoint, since))
    except LookupError:
        items = list(_request_states(endpoint))
    effects.rollback()
    items.sort(
        key=lambda item: (
            _moment(item.get("updated_datetime")) or since,
            str(item.get("update_id")),
        )
    )
    applied = 0
    for item in items:
        endpoint = db.session.get(Open311Endpoint, endpoint_id)
        try:
            applied += _apply(endpoint, item)
        except lifecycle.MoveRefused as exc:
            effects.rollback()
            log.warning("Update %s from %s: %s", item.get("update_id"), name, exc)
        except SQLAlchemyError:
            effects.rollback()
            log.exception(
                "Update %s from %s: not applied; the next sync tries again",
                item.get("update_id"),
                name,
            )
            return applied
    newest = max(
        (m for m in (_moment(i.get("updated_datetime")) for i in items) if m), default=None
    )
    endpoint = db.session.get(Open311Endpoint, endpoint_id)
    if newest is not None and (endpoint.sync_cursor is None or newest > endpoint.sync_cursor):
        endpoint.sync_cursor = newest
    endpoint.synced_at = utcnow()
    effects.commit()
    return applied


def sync_due(now: datetime | None = None) -> int:
    """The periodic sync (the sweep of ``flask notify run`` and the dev server's loop): each
    endpoint not synced for OPEN311_SYNC_SECONDS (0: never) is synced; one that cannot be
    read is left for the next turn. Returns how many updates were applied."""
    seconds = current_app.config["OPEN311_SYNC_SECONDS"]
    if seconds <= 0:
        return 0
    now = now or utcnow()
    tried = current_app.extensions.setdefault(SYNC_TRIED, {})
    due = db.session.execute(
        select(Open311Endpoint.id, Open311Endpoint.name).where(
            or_(
                Open311Endpoint.synced_at.is_(None),
                Open311Endpoint.synced_at <= now - timedelta(seconds=seconds),
            )
        )
    ).all()
    effects.rollback()
    applied = 0
    for endpoint_id, name in due:
        # An endpoint that failed (or has nothing of ours yet) is not tried again in this
        # process before its turn comes round again.
        if now - tried.get(endpoint_id, datetime.min.replace(tzinfo=UTC)) < timedelta(
            seconds=seconds
        ):
            continue
        tried[endpoint_id] = now
        endpoint = db.session.get(Open311Endpoint, endpoint_id)
        if endpoint is None:
            continue
        try:
            applied += sync_endpoint(endpoint)
        except RemoteUnavailable as exc:
            effects.rollback()
            log.warning("Open311 sync of %s: not reached, tried again later: %s", name, exc)
    return applied
