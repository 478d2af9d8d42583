"""Reports of a routed category sent on to the city's work-order system (Open311 GeoReport
v2).

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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import requests
from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from bpt311 import effects, outbound
from bpt311.extensions import db
from bpt311.models import Media, OutboundRequest, Report, TimelineEvent, utcnow
from bpt311.notify import backoff
from bpt311.outbound311.endpoints import ERROR_MAX, EndpointProblem, destination, timeouts
from bpt311.site import site_url

log = logging.getLogger(__name__)


def _lease() -> timedelta:
    connect, read = timeouts()
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
        session = outbound.session_for(destination(url, root_url))
        with session:
            response = session.post(url, data=form, timeout=timeouts())
    except (requests.RequestException, outbound.DestinationRefused, EndpointProblem) as exc:
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
