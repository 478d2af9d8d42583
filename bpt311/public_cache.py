"""Public pages as anyone may cache them: anonymous visitors get the city's public pages with
no cookie, ``Cache-Control: public`` and a strong ETag, and the app keeps the compressed
answers in a shared cache (Redis when REDIS_URL is set, this process's memory otherwise).

A request is anonymous when it brings no remember-me cookie and no session cookie, or a
session holding nothing but a CSRF token (a visitor who once opened a form). Such a request
to one of :data:`PUBLIC_ENDPOINTS` is served from the cache before the session, the user or
the database is read; a miss renders the page "public" (no CSRF token, no flashes, forms that
need one become links: see ``public_page`` in the templates) and stores it. Anybody signed in
gets ``Cache-Control: private`` and never a stored page.

The keys hold a generation: :func:`changed` (named by the services with
``effects.after_commit``) gives the changed report's pages a new one at once, or every page
when called without a report (a category renamed); everything else is at most
``PUBLIC_CACHE_SECONDS`` old.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request, session
from flask_caching import Cache

from bpt311 import assets, i18n
from bpt311.extensions import login_manager

log = logging.getLogger(__name__)

# GET pages and documents that are the same for every anonymous visitor (given the language,
# the encoding and the query): the home page, lists, a report, the map, neighbourhoods,
# figures, feeds, embeds and the Open311 reads.
PUBLIC_ENDPOINTS = frozenset(
    {
        "home.index",
        "reports.index",
        "reports.map_page",
        "reports.geojson",
        "reports.neighbourhoods",
        "reports.neighbourhood",
        "community.report",
        "stats.index",
        "stats.table_csv",
        "watch.feed_list",
        "watch.category_feed",
        "watch.neighbourhood_feed",
        "watch.report_feed",
        "api.developers",
        "api.embed_recent",
        "api.embed_report_button",
        "api.discovery",
        "api.discovery_v2",
        "api.openapi",
        "api.services_list",
        "api.service_definition",
        "api.service_definition_singular",
        "api.requests_list",
        "api.request",
        "api.request_updates",
    }
)
# What an anonymous visitor's session may hold and still see the public page.
HARMLESS_SESSION_KEYS = frozenset({"csrf_token"})
# The headers HTMX sends that decide between a page and a partial.
HTMX_HEADERS = ("HX-Request", "HX-History-Restore-Request", "HX-Target", "HX-Boosted")
CACHEABLE_STATUS = (200, 304)
EXTENSION = "bpt311_public_cache"

cache = Cache()


def enabled() -> bool:
    return EXTENSION in current_app.extensions


def is_public_request() -> bool:
    """Whether this request asks for a public page as somebody not signed in."""
    return bool(g.get("public_page"))


def cache_control(seconds: int) -> str:
    """Browsers check back every time (the ETag makes that cheap); shared caches keep the
    page ``seconds`` and may serve it that much longer while they fetch a fresh one."""
    return f"public, max-age=0, s-maxage={seconds}, stale-while-revalidate={seconds}"


def _anonymous() -> bool:
    config = current_app.config
    cookies = request.cookies
    if config.get("REMEMBER_COOKIE_NAME", "remember_token") in cookies:
        return False
    if config.get("SESSION_COOKIE_NAME", "session") not in cookies:
        return True
    return set(session.keys()) <= HARMLESS_SESSION_KEYS


def _generation_token() -> str:
    return uuid.uuid4().hex[:16]


def _generation_names() -> list[str]:
    names = ["gen"]
    tracking_number = (request.view_args or {}).get("tracking_number")
    if tracking_number:
        names.append(f"gen:report:{str(tracking_number).upper()}")
    return names


def _generations(names: list[str]) -> list[str]:
    """The current generation of each name, made on first use. A generation that expires
    or is evicted is replaced by a new one, so an old page can never match again."""
    values = cache.get_many(*names)
    lifetime = _generation_lifetime()
    for index, (name, value) in enumerate(zip(names, values, strict=True)):
        if value is None:
            cache.add(name, _generation_token(), timeout=lifetime)
            values[index] = cache.get(name) or "none"
    return [str(value) for value in values]


def _generation_lifetime() -> int:
    return max(3600, 2 * current_app.config["PUBLIC_CACHE_SECONDS"])


def _key() -> str:
    generations = ":".join(_generations(_generation_names()))
    htmx = "|".join(request.headers.get(name, "") for name in HTMX_HEADERS)
    coding = assets.dynamic_coding(request.accept_encodings)
    return "|".join(
        [
            "page",
            generations,
            i18n.anonymous_language(),
            coding,
            htmx,
            request.host_url,
            request.path,
            request.query_string.decode("latin-1"),
        ]
    )


def _serve_from_cache():
    """Before anything else: mark an anonymous request for a public page, and answer it
    from the cache when the page is there."""
    if request.method not in ("GET", "HEAD") or request.endpoint not in PUBLIC_ENDPOINTS:
        return None
    if not _anonymous():
        return None
    g.public_page = True
    g._login_user = login_manager.anonymous_user()  # current_user without reading the session
    if not enabled():
        return None
    try:
        key = _key()
        stored = cache.get(key)
    except Exception:  # Redis away: render the page as if nothing were cached
        log.warning("public page cache unavailable", exc_info=True)
        return None
    if stored is None:
        g.public_cache_key = key
        return None
    status, headers, body = stored
    response = Response(body, status=status, headers=headers)
    g.public_cache_hit = True
    return response.make_conditional(request)


def _label_and_store(response: Response) -> Response:
    """Last of all: public pages get their shared-cache headers and are stored; everything
    a signed-in person gets is private."""
    if g.get("public_cache_hit"):
        return response
    if g.get("public_page"):
        fit = (
            response.status_code in CACHEABLE_STATUS
            and not session.modified
            and "Set-Cookie" not in response.headers
        )
        if not fit:
            response.headers["Cache-Control"] = "private, no-cache"
            return response
        seconds = current_app.config["PUBLIC_CACHE_SECONDS"]
        response.headers["Cache-Control"] = cache_control(seconds)
        key = g.get("public_cache_key")
        if key and response.status_code == 200 and not response.is_streamed:
            headers = [(name, value) for name, value in response.headers.items()]
            try:
                cache.set(key, (200, headers, response.get_data()), timeout=seconds)
            except Exception:
                log.warning("public page cache unavailable", exc_info=True)
        return response
    personal = "Cache-Control" not in response.headers and _signed_in()
    if personal or request.endpoint in PUBLIC_ENDPOINTS:  # (a public page, for one person)
        response.headers["Cache-Control"] = "private, no-cache"
    return response


def _signed_in() -> bool:
    user = g.get("_login_user")
    return bool(user is not None and getattr(user, "is_authenticated", False))


_site_changes = [0]  # whole-site changes committed in this process


def site_changes() -> int:
    """How many whole-site changes (``changed()`` without a report: the catalogue, names,
    places) this process has committed: what a process keeps for every page (the filter
    form's choices, bpt311/reports/browse.py) is made again when it moves."""
    return _site_changes[0]


@dataclass(frozen=True)
class Kept:
    value: Any
    made: float  # time.monotonic()
    site_changes: int  # site_changes() then


KEPT = "bpt311.public_cache.kept"


def kept_a_while(name: str, key: Hashable, make: Callable[[], Any]) -> Kept:
    """``make()``, kept per process under (``name``, ``key``) for FILTER_CHOICES_SECONDS
    (like a cached page, default 30) and made again at once after a whole-site change
    committed in this process: what every public page reads and nobody needs to the
    second (the filter form's choices, the list's lower bound)."""
    kept = current_app.extensions.setdefault(KEPT, {})
    found = kept.get((name, key))
    seconds = current_app.config.get("FILTER_CHOICES_SECONDS", 30)
    if (
        found is not None
        and found.site_changes == site_changes()
        and time.monotonic() - found.made < seconds
    ):
        return found
    stamp, made = site_changes(), time.monotonic()
    found = kept[(name, key)] = Kept(make(), made, stamp)
    return found


def changed(tracking_number: str | None = None) -> None:
    """A public change committed: the report's pages (or, without one, every page) get a
    new generation, so the next visitor sees the change."""
    if tracking_number is None:
        _site_changes[0] += 1
    if not enabled():
        return
    name = f"gen:report:{tracking_number.upper()}" if tracking_number else "gen"
    try:
        cache.set(name, _generation_token(), timeout=_generation_lifetime())
    except Exception:  # the pages catch up within PUBLIC_CACHE_SECONDS
        log.warning("public page cache unavailable: %s not refreshed", name, exc_info=True)


def init_app(app: Flask) -> None:
    """Hooks first in and last out; the cache itself only when PUBLIC_CACHE is on."""
    app.before_request_funcs.setdefault(None, []).insert(0, _serve_from_cache)
    app.after_request_funcs.setdefault(None, []).insert(0, _label_and_store)
    app.context_processor(lambda: {"public_page": is_public_request()})
    if not app.config.get("PUBLIC_CACHE"):
        return
    redis_url = app.config.get("REDIS_URL", "")
    settings = {
        "CACHE_KEY_PREFIX": app.config.get("PUBLIC_CACHE_PREFIX", "bpt311:public:"),
        "CACHE_DEFAULT_TIMEOUT": app.config["PUBLIC_CACHE_SECONDS"],
    }
    if redis_url:
        settings.update(
            CACHE_TYPE="RedisCache",
            CACHE_REDIS_URL=redis_url,
            CACHE_OPTIONS={"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        )
    else:
        settings.update(CACHE_TYPE="SimpleCache", CACHE_THRESHOLD=2000)
    cache.init_app(app, config=settings)
    app.extensions[EXTENSION] = True
