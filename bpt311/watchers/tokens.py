"""Signed links for watch areas: one-click unsubscribe from emails, and private feeds.

Made and read by :mod:`bpt311.tokens` (the app's SECRET_KEY, a salt per purpose), so a link
made for one purpose never works as another. No table holds them: each names one
subscription and its person, and is checked against both.
"""

from __future__ import annotations

from bpt311.tokens import PRIVATE_FEED, TokenExpired, TokenInvalid, make_token, read_token
from bpt311.tokens import WATCH_UNSUBSCRIBE as UNSUBSCRIBE

# What an unsubscribe link can name: an area's owner, a follower, or every digest.
SCOPES = ("area", "follow", "digest")

__all__ = ["TokenExpired", "TokenInvalid", "read", "unsubscribe_token"]
read = read_token  # the payload, if genuine, made for the purpose and young enough


def unsubscribe_token(scope: str, subscription_id: int | None, user_id: int) -> str:
    """A link that stops the emails of one subscription (or, for "digest", every digest)."""
    assert scope in SCOPES
    return make_token(UNSUBSCRIBE, {"s": scope, "i": subscription_id, "u": user_id})


def feed_key(area_id: int) -> str:
    return make_token(PRIVATE_FEED, {"a": area_id})


def area_of_feed_key(key: str) -> int | None:
    try:
        payload = read_token(PRIVATE_FEED, key)
    except (TokenExpired, TokenInvalid):
        return None
    area_id = payload.get("a")
    return area_id if isinstance(area_id, int) else None
