"""Web Push, the third channel beside email and feeds.

A signed-in resident turns notifications on per device; the browser gives us a
subscription (an endpoint URL at their push service and two keys). Changes queue a
``PushMessage`` per device in the caller's transaction, as emails queue ``Outbox``
rows, and the notify worker encrypts and sends them with pywebpush (RFC 8291,
aes128gcm, VAPID), reusing the outbox's claim and backoff. A push service that
answers 404 or 410 has forgotten the subscription, so we forget it too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select, update

from bpt311 import effects, i18n, outbound
from bpt311.extensions import db
from bpt311.i18n import force_locale
from bpt311.models import PushMessage, PushSubscription, User, utcnow
from bpt311.notify import claim, due_ids, fail_alone, retry_later

log = logging.getLogger(__name__)
SCOPES = ("reports", "areas")
MAX_ENDPOINT = 2000
TTL_SECONDS = 24 * 3600  # a notification a day late is no longer news


class InvalidSubscription(ValueError):
    """What the browser sent is not a push subscription we can use."""


def enabled() -> bool:
    config = current_app.config
    return bool(config.get("VAPID_PUBLIC_KEY") and config.get("VAPID_PRIVATE_KEY"))


def _b64url(text: str) -> bytes:
    if not isinstance(text, str) or not text or len(text) > 200:
        raise InvalidSubscription(_("The subscription's keys are missing or malformed."))
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidSubscription(_("The subscription's keys are not valid base64.")) from exc


def push_services() -> list[str]:
    """Only the push services we know: a subscription is a URL the server will POST to,
    so an arbitrary one would let anyone aim our worker at any address."""
    return current_app.config["PUSH_SERVICE_HOSTS"].split(",")


@dataclass
class Subscription:
    endpoint: str
    p256dh: str
    auth: str


def parse_subscription(raw) -> Subscription:
    """A browser's ``PushSubscription.toJSON()``, checked; raises InvalidSubscription."""
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise InvalidSubscription(_("That is not a push subscription.")) from exc
    if not isinstance(raw, dict) or not isinstance(raw.get("keys"), dict):
        raise InvalidSubscription(_("That is not a push subscription."))
    endpoint = raw.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > MAX_ENDPOINT:
        raise InvalidSubscription(_("The subscription has no usable address."))
    try:
        outbound.check_url(endpoint, push_services())
    except outbound.DestinationRefused as exc:
        raise InvalidSubscription(_("That push service is not one we send to.")) from exc
    p256dh, auth = raw["keys"].get("p256dh"), raw["keys"].get("auth")
    point = _b64url(p256dh)
    if len(point) != 65 or point[0] != 4:
        raise InvalidSubscription(_("The subscription's public key is not a P-256 key."))
    try:  # a point not on the curve cannot be encrypted to
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise InvalidSubscription(_("The subscription's public key is not a P-256 key.")) from exc
    if len(_b64url(auth)) != 16:
        raise InvalidSubscription(_("The subscription's secret is the wrong length."))
    return Subscription(endpoint=endpoint, p256dh=p256dh.rstrip("="), auth=auth.rstrip("="))


def endpoint_hash(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()


def subscribe(
    user: User, raw, reports: bool = True, areas: bool = True, label: str = ""
) -> PushSubscription:
    """Store (or update) this device's subscription for ``user``; commits."""
    parsed = parse_subscription(raw)
    key = endpoint_hash(parsed.endpoint)
    row = db.session.scalars(
        select(PushSubscription).where(PushSubscription.endpoint_hash == key)
    ).one_or_none()
    if row is None:
        row = PushSubscription(endpoint=parsed.endpoint, endpoint_hash=key, user_id=user.id)
        db.session.add(row)
    # A device that changes hands (another account signs in) follows its new owner.
    row.user_id = user.id
    row.p256dh, row.auth = parsed.p256dh, parsed.auth
    row.reports, row.areas = bool(reports), bool(areas)
    row.device_label = label.strip()[:120]
    effects.commit()
    return row


def unsubscribe(user: User, endpoint: str) -> bool:
    """Forget one device of ``user``'s; commits. False when it was not theirs."""
    result = db.session.execute(
        delete(PushSubscription).where(
            PushSubscription.endpoint_hash == endpoint_hash(endpoint or ""),
            PushSubscription.user_id == user.id,
        )
    )
    effects.commit()
    return result.rowcount > 0


def devices_of(user: User) -> list[PushSubscription]:
    return list(
        db.session.scalars(
            select(PushSubscription)
            .where(PushSubscription.user_id == user.id)
            .order_by(PushSubscription.created_at)
        )
    )


# ---- queueing, in the caller's transaction ------------------------------------------


def report_path(report) -> str:
    """Where a tap on the notification goes: a path on our own origin."""
    return current_app.url_map.bind("localhost").build(
        "community.report", {"tracking_number": report.tracking_number}
    )


QUEUED = "bpt311.pwa.pushed"


def queue(user_ids, scope: str, title, body, url: str, report_id=None) -> int:
    """Queue a notification to every device of these people that wants ``scope``.

    ``title`` and ``body`` may be lazy translations: each person's notification is
    written in their account's language.

    Added to the caller's session and committed with the change it announces; a person
    already pushed about the same report in this transaction is not pushed twice (a
    follower whose watch area also holds the report).
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown push scope {scope!r}")
    if not enabled():
        return 0
    told = effects.remembered(QUEUED)
    wanted = {uid for uid in user_ids if uid is not None and (uid, report_id) not in told}
    if not wanted:
        return 0
    devices = db.session.execute(
        select(PushSubscription.id, PushSubscription.user_id, User.locale)
        .join(User, User.id == PushSubscription.user_id)
        .where(PushSubscription.user_id.in_(wanted), getattr(PushSubscription, scope).is_(True))
    ).all()
    payloads: dict[str, dict] = {}
    for device_id, user_id, locale in devices:
        language = i18n.known(locale)
        if language not in payloads:
            with force_locale(language):
                payloads[language] = {
                    "title": str(title)[:120],
                    "body": str(body)[:300],
                    "url": url,
                    "tag": str(report_id or ""),
                }
        db.session.add(
            PushMessage(subscription_id=device_id, payload=payloads[language], report_id=report_id)
        )
        told.add((user_id, report_id))
    return len(devices)


def withdraw_unsent(report_id: int, body: str | None = None) -> int:
    """Delete notifications not yet pushed about a report (every one), or only those
    whose text is ``body`` (a comment's, as followers are pushed it); the caller commits."""
    rows = db.session.scalars(
        select(PushMessage).where(
            PushMessage.report_id == report_id, PushMessage.status == "pending"
        )
    ).all()
    gone = 0
    for row in rows:
        if body is None or (row.payload or {}).get("body") == body[:300]:
            db.session.delete(row)
            gone += 1
    return gone


# ---- delivery, by the notify worker ---------------------------------------------------


def send(subscription: PushSubscription, payload: dict) -> None:
    """Encrypt and POST one notification; raises pywebpush.WebPushException, or
    outbound.DestinationRefused when the endpoint (checked again, and resolved now) is not a push
    service's public address."""
    from pywebpush import webpush  # heavy: loaded by the push sender only, not by every page

    config = current_app.config
    destination = outbound.check_before_connecting(subscription.endpoint, push_services())
    with outbound.session_for(destination) as session:
        webpush(
            subscription.info,
            data=json.dumps(payload),
            vapid_private_key=config["VAPID_PRIVATE_KEY"],
            vapid_claims={"sub": config["VAPID_SUBJECT"]},
            ttl=TTL_SECONDS,
            timeout=10,
            requests_session=session,
        )


def deliver_push_due(worker: str | None = None, limit: int = 100, now: datetime | None = None):
    """One pass: send every due push; returns how many were accepted by push services.
    Each notification fails alone: whatever one raises, the others are still sent."""
    if not enabled():
        return 0
    worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    now = now or utcnow()
    sent = 0
    for row_id in due_ids(PushMessage, now, limit):
        try:
            sent += _deliver_one(row_id, worker, now)
        except Exception as exc:  # one notification's trouble is that notification's alone
            fail_alone(PushMessage, row_id, worker, exc, now)
    return sent


def _deliver_one(row_id: int, worker: str, now: datetime) -> bool:
    """Claim and push one notification; True when the push service took it."""
    from pywebpush import WebPushException  # heavy: as webpush above

    if not claim(row_id, worker, now, model=PushMessage):
        return False
    row = db.session.get(PushMessage, row_id)
    if row is None:  # its device was removed meanwhile
        return False
    subscription = row.subscription
    try:
        send(subscription, row.payload)
    except WebPushException as exc:
        status = getattr(exc.response, "status_code", None)
        if status in (404, 410):  # the push service forgot it: so do we
            log.info("Push subscription %s is gone (%s): removed", subscription.id, status)
            db.session.execute(
                delete(PushSubscription).where(PushSubscription.id == subscription.id)
            )
            effects.commit()
            return False
        retry_later(PushMessage, row, worker, f"push failed: {status} {exc}", now)
        return False
    except outbound.DestinationRefused as exc:  # not a push service's public address (now)
        log.warning("Push to subscription %s refused: %s", subscription.id, exc)
        retry_later(PushMessage, row, worker, f"refused: {exc}", now)
        return False
    except Exception as exc:  # network trouble, a bad key, a library bug: this row only
        effects.rollback()
        retry_later(PushMessage, row, worker, f"{type(exc).__name__}: {exc}", now)
        return False
    db.session.execute(
        update(PushMessage)
        .where(PushMessage.id == row_id, PushMessage.lease_owner == worker)
        .values(status="sent", sent_at=utcnow(), lease_until=None, last_error="")
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(PushSubscription)
        .where(PushSubscription.id == subscription.id)
        .values(last_sent_at=utcnow())
    )
    effects.commit()
    return True


def new_vapid_keys() -> tuple[str, str]:
    """A fresh VAPID pair: (public key as the browser wants it, private key), base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )

    def encode(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return encode(public), encode(private)
