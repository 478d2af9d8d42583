"""Security headers on every response, which pages other sites may frame, where a
CSRF-exempt post came from, and no NUL character in what a request carries."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, request
from flask_babel import gettext as _
from flask_wtf.csrf import ValidationError, validate_csrf
from htmx_flask.requests import HtmxAwareRequest


def embeddable(view):
    """Mark a view as meant for the city's website to put in an iframe."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.embeddable = True
        return view(*args, **kwargs)

    return wrapper


def tile_origin(tile_url: str) -> str:
    """The origin map tiles load from, for img-src; ``{s}`` subdomains become a wildcard."""
    parts = urlsplit(tile_url.replace("{s}", "*"))
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(frame_ancestors: str) -> str:
    tiles = tile_origin(current_app.config["MAP_TILE_URL"])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob: {tiles}".strip(),
            "media-src 'self' blob:",
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            f"frame-ancestors {frame_ancestors}",
        ]
    )


def own_origins() -> set[str]:
    """This site's origin as the request reached us, and as SITE_URL says it is."""
    origins = {request.host_url.rstrip("/")}
    site = urlsplit(current_app.config.get("SITE_URL", ""))
    if site.scheme and site.netloc:
        origins.add(f"{site.scheme}://{site.netloc}")
    return origins


def _carries_our_token() -> bool:
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    token = request.form.get(field) or request.headers.get("X-CSRFToken", "")
    try:
        validate_csrf(token)
    except ValidationError:
        return False
    return True


def came_from_this_site() -> bool:
    """Whether a post to a CSRF-exempt view was started by the browser itself or by one
    of our own pages, never by another site.

    Browsers say so in Sec-Fetch-Site ("none": a share sheet, a bookmark; "same-origin").
    Where it is missing (older browsers, other clients), the Origin header must be ours,
    or the post must carry the session's CSRF token.
    """
    fetched_from = request.headers.get("Sec-Fetch-Site")
    if fetched_from is not None:
        return fetched_from in ("same-origin", "none")
    if request.headers.get("Origin") in own_origins():
        return True
    return _carries_our_token()


def _add_headers(response):
    if g.get("embeddable"):
        ancestors = current_app.config["EMBED_ANCESTORS"].strip() or "'self'"
    else:
        ancestors = "'none'"
        response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", content_security_policy(ancestors))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault(
        "Permissions-Policy", "geolocation=(self), camera=(self), microphone=()"
    )
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config["ENV_NAME"] == "production":
        response.headers.setdefault(
            "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
        )
    return response


NUL = "\x00"
REPLACEMENT = "\ufffd"


class Request(HtmxAwareRequest):
    """A request whose form values hold no NUL: each becomes U+FFFD as it is read.

    No text column can hold NUL (PostgreSQL refuses it outright), and a browser never
    sends one from a keyboard. Replacing it once here, rather than in each form and each
    ``request.form.get``, means no view can pass one to the database (a 500 before), and a
    form sent back with an error still shows what was typed, as a browser shows a NUL: as
    U+FFFD. A person's name holding one is refused (bpt311.names). It extends htmx-flask's
    request class (``request.htmx``), which ``htmx.init_app`` installed before this one."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        form = self.__dict__["form"]
        pairs = list(form.items(multi=True))
        if any(NUL in key or NUL in value for key, value in pairs):
            self.__dict__["form"] = self.parameter_storage_class(
                (key.replace(NUL, REPLACEMENT), value.replace(NUL, REPLACEMENT))
                for key, value in pairs
            )


def _refuse_nul_in_query() -> None:
    """No text column can hold NUL (PostgreSQL refuses it outright), so a query string
    carrying one is malformed: a 400 here rather than a database error in any view."""
    if any(NUL in value for values in request.args.listvalues() for value in values):
        abort(400, _("The address of this page has a character in it that cannot be used."))


def register(app: Flask) -> None:
    app.request_class = Request
    app.before_request(_refuse_nul_in_query)
    app.after_request(_add_headers)
