"""Signed, expiring links: verify an address, reset a password, change an email, stop emails,
a watch area's private feed. The one token helper (watch/tokens.py names its own links).

No table holds them. Each token is signed with the app's SECRET_KEY and a salt of
its own purpose, so one kind can never be used as another, and carries a
fingerprint of the state it changes (the current password hash, the current
email): once that state changes the token no longer matches, which makes it
single use without storing anything.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

VERIFY_EMAIL = "accounts.verify-email"
RESET_PASSWORD = "accounts.reset-password"
CHANGE_EMAIL = "accounts.change-email"
CLAIM_REPORTS = "accounts.claim-reports"
UNSUBSCRIBE = "notify.unsubscribe"
EMAIL_UPDATES = "community.email-updates"  # an address without an account asks for updates
WATCH_UNSUBSCRIBE = "watch.unsubscribe"  # one watch area's, follow's or every digest's emails
PRIVATE_FEED = "watch.private-feed"  # a watch area's feed address

# How long each kind of link works, in seconds.
MAX_AGE = {
    VERIFY_EMAIL: 3 * 24 * 3600,
    RESET_PASSWORD: 3600,
    CHANGE_EMAIL: 24 * 3600,
    CLAIM_REPORTS: 24 * 3600,
    UNSUBSCRIBE: 5 * 365 * 24 * 3600,  # an old email's link should still work
    EMAIL_UPDATES: 3 * 24 * 3600,
    WATCH_UNSUBSCRIBE: 5 * 365 * 24 * 3600,
    PRIVATE_FEED: 10 * 365 * 24 * 3600,  # a feed reader keeps its address for years
}


class TokenExpired(Exception):
    """The link was genuine but is too old."""


class TokenInvalid(Exception):
    """The link was altered, cut short, or made for something else."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def fingerprint(value: str) -> str:
    """A short keyed hash of some state: reveals nothing, but changes when the state does."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


def session_hold(user) -> str:
    """What a session cookie holds of ``user``: it changes with the password and with the
    session version. Version 0 keeps the older form, so no one is signed out by the upgrade."""
    password_hash = user.password_hash or ""
    version = user.session_version or 0
    return fingerprint(f"{version}:{password_hash}" if version else password_hash)


def make_token(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


def password_reset_token(user) -> str:
    """A link token that sets ``user``'s password once: it lapses when the password changes."""
    return make_token(RESET_PASSWORD, {"uid": user.id, "pw": fingerprint(user.password_hash)})


def read_token(purpose: str, token: str) -> dict[str, Any]:
    """The payload of a token made for ``purpose`` and younger than its maximum age."""
    try:
        payload = _serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired as exc:
        raise TokenExpired() from exc
    except BadSignature as exc:
        raise TokenInvalid() from exc
    if not isinstance(payload, dict):
        raise TokenInvalid()
    return payload
