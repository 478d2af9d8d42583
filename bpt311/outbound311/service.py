"""Reports of a routed category sent on to the city's work-order system (Open311 GeoReport
v2), and its answers brought back.

Sending (the sweep, :func:`send_pending_reports`): each report of a routed category got an
:class:`OutboundRequest` row in the transaction that made it. A sender claims a due row
with a conditional UPDATE (only one wins), POSTs it (form-encoded) to ``ROOT/requests.json``
with bounded timeouts and without following redirects, and records the answer: the remote
``service_request_id`` (or ``token``, resolved at the next sync), or a retry with backoff,
or, after OPEN311_SEND_MAX_ATTEMPTS failures, ``dead``; a 400 with GeoReport's error array
marks it ``refused`` with the city system's reasons. Staff see each outcome as an internal
note on the report's timeline.

What is sent: the service code (the category's remote code, else ours), the point and the
address, the description, the first photo's public address and the answers to the
category's questions. No contact details: the city system answers through us (we tell the
reporter and followers), so the reporter's name, email and phone stay here.

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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import requests
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from bpt311 import effects, outbound, public_cache
from bpt311.community.service import tell_followers
from bpt311.extensions import db
from bpt311.models import (
    Category,
    Department,
    Media,
    Open311Endpoint,
    OutboundRequest,
    RemoteUpdate,
    Report,
    TimelineEvent,
    utcnow,
)
from bpt311.notify import backoff
from bpt311.reports import lifecycle
from bpt311.site import site_url
from bpt311.watch.events import announce

log = logging.getLogger(__name__)

NAME_MAX = 80
ERROR_MAX = 2000
OVERLAP = timedelta(minutes=1)  # each sync reads a little before its cursor: nothing falls between
IDS_PER_QUERY = 50
PAGE_SIZE, MAX_PAGES = 500, 200  # updates read per page, and pages at most per sync
STATES_SHOWN = ("pending", "sent", "refused", "dead")
SYNC_TRIED = "bpt311.outbound311.sync_tried"  # endpoint id -> when this process last tried it
HEADLINES = {  # the same words as staff changes, in the endpoint's name
    "acknowledged": "%(department)s acknowledged it",
    "closed": "%(department)s closed it",
    "reopened": "%(department)s reopened it",
    "note": "%(department)s added a note",
}


class EndpointProblem(Exception):
    """A command about endpoints cannot be done; str() says why."""


class RemoteUnavailable(Exception):
    """The city system could not be read; str() says what it answered."""


# ---- configuration -------------------------------------------------------------------------


def checked_root(url: str) -> str:
    """The root URL, tidied; EndpointProblem if it cannot be one."""
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointProblem("The URL must start with http:// or https:// and name a host")
    if parts.query or parts.fragment or parts.username:
        raise EndpointProblem("Give the API's root URL alone, without a query or user name")
    _destination(url + "/requests.json", url)
    return url


def _origin(root_url: str) -> str:
    parts = urlsplit(root_url)
    port = parts.port or outbound.DEFAULT_PORTS[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def _destination(url: str, root_url: str) -> outbound.Destination:
    """An endpoint the operator configured may be http, on any port, on a private address
    (its origin is allowed by name); anything else the URL could aim at is refused."""
    try:
        return outbound.check_url(url, [_origin(root_url)])
    except outbound.Refused as exc:
        raise EndpointProblem(f"{url}: {exc}") from exc


def add_endpoint(name: str, url: str, api_key: str, jurisdiction: str = "") -> Open311Endpoint:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise EndpointProblem(f"Give the endpoint a name of 1 to {NAME_MAX} characters")
    if name.lower() == "none":
        raise EndpointProblem("'none' means sending nothing on: choose another name")
    if db.session.scalars(select(Open311Endpoint).where(Open311Endpoint.name == name)).first():
        raise EndpointProblem(f"An endpoint is already called {name!r}")
    if not (api_key or "").strip():
        raise EndpointProblem("Give the API key the city system gave us (--api-key)")
    endpoint = Open311Endpoint(
        name=name,
        root_url=checked_root(url),
        api_key=api_key.strip(),
        jurisdiction=(jurisdiction or "").strip(),
    )
    db.session.add(endpoint)
    effects.commit()
    return endpoint


def endpoint_named(name: str) -> Open311Endpoint:
    found = db.session.scalars(
        select(Open311Endpoint).where(Open311Endpoint.name == (name or "").strip())
    ).first()
    if found is None:
        raise EndpointProblem(f"No endpoint is called {name!r} (see: flask open311 endpoints list)")
    return found


def route_category(code: str, endpoint_name: str, service_code: str = "") -> Category:
    """Send CODE's new reports to the endpoint (``none``: keep them here)."""
    category = db.session.scalars(
        select(Category).where(Category.service_code == (code or "").strip())
    ).first()
    if category is None:
        raise EndpointProblem(f"No category has the service code {code!r}")
    if (endpoint_name or "").strip().lower() == "none":
        category.send_method = "none"
        category.send_endpoint_id = None
        category.remote_service_code = ""
    else:
        category.send_method = "open311"
        category.send_endpoint_id = endpoint_named(endpoint_name).id
        category.remote_service_code = (service_code or "").strip()[:64]
    effects.commit()
    return category


def endpoint_counts() -> list[tuple[Open311Endpoint, dict[str, int], list[str]]]:
    """Every endpoint, how many of its requests are in each state, and the categories
    routed to it (and the departments whose default it is)."""
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, state, count in db.session.execute(
        select(OutboundRequest.endpoint_id, OutboundRequest.state, func.count()).group_by(
            OutboundRequest.endpoint_id, OutboundRequest.state
        )
    ):
        counts.setdefault(endpoint_id, {})[state] = count
    routes: dict[int, list[str]] = {}
    for endpoint_id, code in db.session.execute(
        select(Category.send_endpoint_id, Category.service_code)
        .where(Category.send_method == "open311", Category.send_endpoint_id.is_not(None))
        .order_by(Category.service_code)
    ):
        routes.setdefault(endpoint_id, []).append(code)
    for endpoint_id, name in db.session.execute(  # departments whose default it is
        select(Department.send_endpoint_id, Department.name)
        .where(Department.send_method == "open311", Department.send_endpoint_id.is_not(None))
        .order_by(Department.name)
    ):
        routes.setdefault(endpoint_id, []).append(f"{name} (department default)")
    endpoints = db.session.scalars(select(Open311Endpoint).order_by(Open311Endpoint.name)).all()
    return [(e, counts.get(e.id, {}), routes.get(e.id, [])) for e in endpoints]


def _timeout() -> tuple[float, float]:
    config = current_app.config
    return (config["OPEN311_CONNECT_TIMEOUT"], config["OPEN311_READ_TIMEOUT"])


def _get(endpoint_root: str, path: str, params: dict | None = None, timeout=None):
    url = f"{endpoint_root}/{path}"
    try:
        session = outbound.session_for(_destination(url, endpoint_root))
    except EndpointProblem as exc:
        raise RemoteUnavailable(str(exc)) from exc
    try:
        with session:
            response = session.get(url, params=params, timeout=timeout or _timeout())
    except (requests.RequestException, outbound.Refused) as exc:
        raise RemoteUnavailable(f"{url}: {exc.__class__.__name__}: {exc}") from exc
    return response


def _json(response, url: str):
    if response.status_code != 200:
        raise RemoteUnavailable(f"{url} answered {response.status_code}: {response.text[:300]}")
    try:
        return response.json()
    except ValueError as exc:
        raise RemoteUnavailable(f"{url} did not answer JSON") from exc


def services_of(
    endpoint: Open311Endpoint, timeout: tuple[float, float] | None = None
) -> list[dict]:
    """What the endpoint offers (its ``services.json``); ``timeout`` (connect, read) shortens
    the configured ones."""
    params = {"jurisdiction_id": endpoint.jurisdiction} if endpoint.jurisdiction else None
    response = _get(endpoint.root_url, "services.json", params, timeout)
    found = _json(response, endpoint.root_url)
    if not isinstance(found, list):
        raise RemoteUnavailable(f"{endpoint.root_url}/services.json is not a list of services")
    return [item for item in found if isinstance(item, dict)]


# ---- sending -------------------------------------------------------------------------------


def _lease() -> timedelta:
    connect, read = _timeout()
    return timedelta(seconds=max(current_app.config["OUTBOX_LEASE_SECONDS"], connect + read + 30))


def _due(now: datetime):
    return (
        OutboundRequest.state == "pending",
        or_(OutboundRequest.retry_at.is_(None), OutboundRequest.retry_at <= now),
        or_(OutboundRequest.lease_until.is_(None), OutboundRequest.lease_until < now),
    )


def _claim(row_id: int, now: datetime) -> bool:
    """Hold the row for this sender; only one sender can win it."""
    result = db.session.execute(
        update(OutboundRequest)
        .where(OutboundRequest.id == row_id, *_due(now))
        .values(lease_until=now + _lease(), attempts=OutboundRequest.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    effects.commit()
    return result.rowcount == 1


def send_pending_reports(limit: int = 20, now: datetime | None = None) -> int:
    """Send every due row (at most ``limit``); returns how many were sent. An endpoint that
    fails once is left alone for the rest of this pass: its other rows wait, untouched,
    rather than each holding the pass (and the emails after it) for a timeout."""
    now = now or utcnow()
    due = db.session.execute(
        select(OutboundRequest.id, OutboundRequest.endpoint_id)
        .where(*_due(now))
        .order_by(OutboundRequest.id)
        .limit(limit)
    ).all()
    effects.rollback()
    sent, failing = 0, set()
    for row_id, endpoint_id in due:
        if endpoint_id in failing or not _claim(row_id, now):
            continue  # its endpoint is failing now, or another sender has it
        try:
            state = send_claimed(row_id)
        except SQLAlchemyError:
            effects.rollback()
            log.exception("Sending request %s: its outcome could not be recorded", row_id)
            continue
        sent += state == "sent"
        if state in ("pending", "dead"):
            failing.add(endpoint_id)
    return sent


def send_now(row_id: int, now: datetime | None = None) -> str:
    """The "open311" job: send one row now if it is due and no other sender holds it.
    A failure is not raised: the row keeps its own backoff and the sweep tries again."""
    if not _claim(row_id, now or utcnow()):
        return "not due"  # sent already, held by another sender, or waiting for its retry
    return send_claimed(row_id)


def _photo_url(report: Report) -> str:
    photo = db.session.scalars(
        select(Media.file_name)
        .where(
            Media.report_id == report.id,
            Media.kind == "photo",
            Media.hidden_at.is_(None),
            Media.comment_id.is_(None),
        )
        .order_by(Media.position, Media.id)
        .limit(1)
    ).first()
    if photo:
        return f"{site_url()}/media/{quote(photo)}"
    return report.media_url or ""


def request_form(row: OutboundRequest) -> list[tuple[str, str]]:
    """The GeoReport ``POST requests`` fields for ``row``'s report (no contact details)."""
    report, endpoint = row.report, row.endpoint
    category = report.category
    form = [
        ("api_key", endpoint.api_key),
        ("service_code", category.remote_service_code or category.service_code),
        ("description", report.description),
    ]
    if endpoint.jurisdiction:
        form.append(("jurisdiction_id", endpoint.jurisdiction))
    if report.latitude is not None and report.longitude is not None:
        form += [("lat", repr(report.latitude)), ("long", repr(report.longitude))]
    if report.address:
        form.append(("address_string", report.address))
    media_url = _photo_url(report)
    if media_url:
        form.append(("media_url", media_url))
    names = category.remote_attributes or {}  # our question code -> theirs, where it differs
    for ours, answer in (report.answers or {}).items():
        code = names.get(ours) or ours
        if isinstance(answer, list):
            form += [(f"attribute[{code}][]", str(value)) for value in answer]
        elif answer not in (None, ""):
            form.append((f"attribute[{code}]", str(answer)))
    return form


@dataclass(frozen=True)
class _Outcome:
    state: str  # sent, refused or failed
    request_id: str = ""
    token: str = ""
    error: str = ""


def _post(root_url: str, form: list[tuple[str, str]]) -> _Outcome:
    url = f"{root_url}/requests.json"
    try:
        session = outbound.session_for(_destination(url, root_url))
        with session:
            response = session.post(url, data=form, timeout=_timeout())
    except (requests.RequestException, outbound.Refused, EndpointProblem) as exc:
        return _Outcome("failed", error=f"{exc.__class__.__name__}: {exc}")
    try:
        found = response.json()
    except ValueError:
        found = None
    if response.status_code in (200, 201) and isinstance(found, list | dict):
        item = found[0] if isinstance(found, list) and found else found
        if isinstance(item, dict):
            request_id = str(item.get("service_request_id") or "")[:100]
            token = str(item.get("token") or "")[:100]
            if request_id or token:
                return _Outcome("sent", request_id, token)
        return _Outcome("failed", error=f"answered {response.status_code} without an id or token")
    if response.status_code == 400 and isinstance(found, list):
        reasons = [
            str(item.get("description") or item.get("code") or "")
            for item in found
            if isinstance(item, dict)
        ]
        return _Outcome("refused", error="; ".join(r for r in reasons if r) or "refused")
    if 300 <= response.status_code < 400:
        where = response.headers.get("Location", "")[:200]
        return _Outcome("failed", error=f"answered {response.status_code} to {where}; not followed")
    return _Outcome("failed", error=f"answered {response.status_code}: {response.text[:300]}")


def _staff_note(report_id: int, text: str, now: datetime) -> None:
    """An internal note on the report's timeline: staff see it in the inspector."""
    db.session.add(
        TimelineEvent(
            report_id=report_id, kind="note", internal_note=text[:ERROR_MAX], created_at=now
        )
    )


def send_claimed(row_id: int) -> str:
    """POST the claimed row and record what came of it; returns its new state."""
    row = db.session.get(OutboundRequest, row_id)
    if row is None:
        return "gone"
    root_url, name, report_id, attempts = (
        row.endpoint.root_url,
        row.endpoint.name,
        row.report_id,
        row.attempts,
    )
    form = request_form(row)
    effects.rollback()  # no transaction held open while the city system answers
    outcome = _post(root_url, form)
    now = utcnow()
    config = current_app.config
    values: dict = {"lease_until": None}
    if outcome.state == "sent":
        values |= {
            "state": "sent",
            "sent_at": now,
            "remote_request_id": outcome.request_id,
            "remote_token": outcome.token,
            "last_error": "",
        }
        shown = outcome.request_id or f"token {outcome.token}"
        _staff_note(report_id, f"Sent to {name} (Open311) as {shown}.", now)
    elif outcome.state == "refused":
        values |= {"state": "refused", "last_error": outcome.error[:ERROR_MAX]}
        _staff_note(report_id, f"{name} refused it: {outcome.error}", now)
    elif attempts >= config["OPEN311_SEND_MAX_ATTEMPTS"]:
        values |= {"state": "dead", "last_error": outcome.error[:ERROR_MAX]}
        _staff_note(
            report_id,
            f"Could not be sent to {name} after {attempts} attempts: {outcome.error}",
            now,
        )
    else:
        values |= {
            "retry_at": now + backoff(attempts, config["OPEN311_SEND_BACKOFF_SECONDS"]),
            "last_error": outcome.error[:ERROR_MAX],
        }
        log.warning("Sending report %s to %s: retrying later: %s", report_id, name, outcome.error)
    db.session.execute(
        update(OutboundRequest)
        .where(OutboundRequest.id == row_id, OutboundRequest.state == "pending")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    effects.commit()
    return values.get("state", "pending")


# ---- bringing answers back ---------------------------------------------------------------


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
            found = _json(
                _get(endpoint.root_url, f"tokens/{quote(token, safe='')}.json"), endpoint.root_url
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
        response = _get(
            endpoint.root_url,
            "servicerequestupdates.json",
            {**params, "page": page, "page_size": PAGE_SIZE},
        )
        if response.status_code == 404:
            raise LookupError("no updates feed")
        found = _json(response, endpoint.root_url)
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
        found = _json(_get(endpoint.root_url, "requests.json", params), endpoint.root_url)
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
