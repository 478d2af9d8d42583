"""Signed links for watch areas: one-click unsubscribe from emails, and private feeds.

Signed with the app's SECRET_KEY and a salt of their own, so a link made for one
purpose (or by :mod:`bpt311.tokens`) never works as another. No table holds
them: each names one subscription and its person, and is checked against both.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from bpt311.tokens import TokenExpired, TokenInvalid

UNSUBSCRIBE = "watch.unsubscribe"
PRIVATE_FEED = "watch.private-feed"
MAX_AGE = {
    UNSUBSCRIBE: 5 * 365 * 24 * 3600,  # an old email's link should still work
    PRIVATE_FEED: 10 * 365 * 24 * 3600,  # a feed reader keeps its address for years
}
# What an unsubscribe link can name: an area's owner, a follower, or every digest.
SCOPES = ("area", "follow", "digest")

__all__ = ["TokenExpired", "TokenInvalid", "make", "read", "unsubscribe_token"]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=purpose)


def make(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


def read(purpose: str, token: str) -> dict[str, Any]:
    """The payload, if the token is genuine, for ``purpose`` and young enough."""
    try:
        payload = _serializer(purpose).loads(token, max_age=MAX_AGE[purpose])
    except SignatureExpired as exc:
        raise TokenExpired() from exc
    except BadSignature as exc:
        raise TokenInvalid() from exc
    if not isinstance(payload, dict):
        raise TokenInvalid()
    return payload


def unsubscribe_token(scope: str, subscription_id: int | None, user_id: int) -> str:
    """A link that stops the emails of one subscription (or, for "digest", every digest)."""
    assert scope in SCOPES
    return make(UNSUBSCRIBE, {"s": scope, "i": subscription_id, "u": user_id})


def feed_key(area_id: int) -> str:
    return make(PRIVATE_FEED, {"a": area_id})


def area_of_feed_key(key: str) -> int | None:
    try:
        payload = read(PRIVATE_FEED, key)
    except (TokenExpired, TokenInvalid):
        return None
    area_id = payload.get("a")
    return area_id if isinstance(area_id, int) else None
