"""Where a redirect back may go: the one check for every ``next`` and referrer we follow.

A browser reads ``//evil.example``, ``/\\evil.example`` and ``/<tab>/evil.example`` as
another site, and a line break in a Location header is a 500 or a forged header, so a
target is taken only when it is plainly a path on this site; anything else falls back
to a default the caller chooses.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import request

MAX_LENGTH = 2000


def _plain(character: str) -> bool:
    """Not a control, format or separator character (tab, line breaks, spaces, U+2028,
    zero-width and bidi marks...): browsers drop or reinterpret those. Nor U+FFFD, which
    is what a NUL sent in a form becomes (bpt311.security.Request)."""
    return unicodedata.category(character)[0] not in "CZ" and character != "\ufffd"


def safe_next(target: str | None, default: str | None = "/") -> str | None:
    """``target`` if it is a path on this site, else ``default``: never another site,
    however it is spelt."""
    if not isinstance(target, str) or not target or len(target) > MAX_LENGTH:
        return default
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if not all(_plain(character) for character in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


def safe_referrer(default: str) -> str:
    """The page this request came from, as a path, when it is on this site; else
    ``default``. The path goes through :func:`safe_next` like any other target."""
    referrer = request.referrer or ""
    own = request.host_url  # "https://311.example/", ending in a slash
    if not referrer.startswith(own):
        return default
    return safe_next("/" + referrer[len(own) :], default) or default
