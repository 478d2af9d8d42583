"""Error responses: a page for a browser, a partial for HTMX, JSON for API clients; and
the helpers every view uses to answer HTMX (wants_partial, partial_or_page, go_to)."""

from __future__ import annotations

import logging

from flask import (
    Flask,
    Response,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, InternalServerError

from bpt311 import effects
from bpt311.extensions import db
from bpt311.i18n import force_locale
from bpt311.problems import CannotPost

log = logging.getLogger(__name__)

MESSAGES = {
    400: (_l("Bad request"), _l("Something in what was sent could not be understood.")),
    403: (_l("Not allowed"), _l("You do not have permission to do that.")),
    404: (
        _l("Page not found"),
        _l(
            "There is no page at this address. If you typed it, check it; "
            "a tracking number looks like BPT-000123."
        ),
    ),
    405: (_l("Not allowed here"), _l("That kind of request cannot be made to this address.")),
    409: (
        _l("Changed meanwhile"),
        _l("Someone else changed this at the same moment. Reload and try again."),
    ),
    413: (
        _l("Too large"),
        _l("What you sent is larger than we can accept. Try fewer or smaller photos or videos."),
    ),
    422: (
        _l("Could not be processed"),
        _l("What you sent was understood but could not be accepted."),
    ),
    429: (
        _l("Too many requests"),
        _l("You have made too many requests in a short time. Please wait a minute and try again."),
    ),
    503: (
        _l("Briefly unavailable"),
        _l(
            "We cannot reach our records just now, so nothing was saved. Please try again in a "
            "minute; what you typed is still in the form if you go back."
        ),
    ),
    500: (
        _l("Something went wrong"),
        _l(
            "Something went wrong on our side and nothing was saved. Please try again; "
            "if it keeps happening, call 311."
        ),
    ),
}


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def wants_partial() -> bool:
    """An HTMX request gets a fragment, except a history restore, which needs the page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def varies_on_htmx(answer) -> Response:
    """``answer`` (anything a view may return) as a response marked ``Vary: HX-Request``:
    it differs for an HTMX request (a partial, an HX-Redirect), so a cache keeps both."""
    response = make_response(answer)
    response.vary.add("HX-Request")
    return response


def partial_or_page(partial: str, page: str, status: int | None = None, /, **context) -> Response:
    """The ``partial`` template for an HTMX request, the whole ``page`` otherwise (a
    history restore included), rendered with ``context``; varies on HX-Request.
    (Positional-only, so ``page=`` and ``status=`` can be template variables.)"""
    body = render_template(partial if wants_partial() else page, **context)
    return varies_on_htmx(body if status is None else (body, status))


def go_to(target: str) -> Response:
    """Send the browser to another page: a 303 for a plain request; HTMX gets an empty
    answer with ``HX-Redirect``, so it loads the whole page instead of swapping it in."""
    if request.htmx:
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
    else:
        response = redirect(target, 303)
    return varies_on_htmx(response)


def error_response(
    code: int, message: str | None = None, headers: dict | None = None, cannot_post: bool = False
):
    """``cannot_post``: the refusal of a banned account, which also says what it can still do."""
    title, default_message = MESSAGES.get(code, MESSAGES[500])
    message = message or default_message
    if wants_json():  # for programs: the standard wording stays English
        with force_locale("en"):
            title, message = str(title), str(message)
        response = jsonify({"status": code, "error": title, "message": message})
    else:
        template = "errors/_error.html" if wants_partial() else "errors/page.html"
        try:
            body = render_template(
                template, code=code, title=title, message=message, cannot_post=cannot_post
            )
        except Exception:  # the page itself failed (database down?): still answer
            log.exception("Could not render the %s page", code)
            body = f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}</p>"
        response = make_response(body)
    response.status_code = code
    response.headers["Vary"] = "HX-Request, Accept"
    response.headers.update(headers or {})
    return response


def _handle_http(exc: HTTPException):
    code = exc.code or 500
    message = None
    if isinstance(exc, CSRFError):
        message = _(
            "This form could not be accepted because its security token was missing or "
            "out of date. Reload the page and send it again."
        )
    elif code == 413:
        limit_mb = (request.max_content_length or 0) // (1024 * 1024)
        message = _(
            "What you sent is larger than the %(limit)d MB we accept in one go. "
            "Try fewer or smaller photos or videos.",
            limit=limit_mb,
        )
    elif (
        code in (400, 403, 422)
        and exc.description
        and not exc.description.startswith(("The browser", "You don't have", "The request was"))
    ):
        message = exc.description  # our own aborts carry a message meant for people
    headers = {}
    if code == 405 and exc.get_response().headers.get("Allow"):
        headers["Allow"] = exc.get_response().headers["Allow"]
    if code == 429:
        message = _too_many_message(exc)
    return error_response(code, message, headers)


def _too_many_message(exc: HTTPException) -> str:
    """Say when to try again, in words, from the limit that was hit."""
    limit = getattr(exc, "limit", None)
    window = getattr(getattr(limit, "limit", None), "GRANULARITY", None)
    return too_many_message(getattr(window, "seconds", None))


def too_many_message(seconds: int | None) -> str:
    """When to try again, in words, for a limit counted over ``seconds``."""
    if not seconds:
        return MESSAGES[429][1]
    if seconds <= 60:
        return _(
            "You have tried this too many times in a short while. "
            "Please wait a minute and try again."
        )
    if seconds <= 3600:
        return _(
            "You have tried this too many times in a short while. "
            "Please wait an hour and try again."
        )
    return _(
        "You have tried this too many times in a short while. Please wait a day and try again."
    )


def _handle_cannot_post(exc: CannotPost):
    effects.rollback()  # whatever the request had begun is not kept
    return error_response(403, str(exc), cannot_post=True)


def _handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return _handle_http(exc)
    if isinstance(exc, StaleDataError):  # two people changed the same report at once
        effects.rollback()
        return error_response(
            409,
            _(
                "Someone else changed this at the same moment, so your "
                "change was not saved. Reload the page and try again."
            ),
        )
    if _database_unreachable(exc):
        _rollback_quietly()
        log.error("Database unreachable on %s %s: %s", request.method, request.path, exc)
        return error_response(503, headers={"Retry-After": "30"})
    effects.rollback()
    log.exception("Unhandled error on %s %s", request.method, request.path)
    return error_response(500)


def _database_unreachable(exc: Exception) -> bool:
    """A lost or refused database connection (or SQLite busy past its timeout): the
    request did nothing and may simply be sent again, so 503, not a 500."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _rollback_quietly() -> None:
    try:
        effects.rollback()
    except Exception:  # the connection is gone; the pool discards it
        log.warning("Rollback failed on a lost database connection")


def _close_session_quietly(exc: BaseException | None) -> None:
    """End the request's database session; when its connection died after the answer was
    made (the ROLLBACK that closing sends finds no server), drop the session without it
    rather than turn a finished answer into a bare 500. Runs before Flask-SQLAlchemy's
    own teardown, which then finds nothing left to close."""
    try:
        db.session.remove()
    except SQLAlchemyError as error:
        log.warning("Closing the database session failed (connection lost): %s", error)
        try:
            db.session.registry().invalidate()  # drop the connection without talking to it
        except SQLAlchemyError:
            pass
        db.session.registry.clear()


def register(app: Flask) -> None:
    # Registered after db.init_app, so it runs first (teardowns run in reverse order).
    app.teardown_appcontext(_close_session_quietly)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(InternalServerError, _handle_unexpected)
    app.register_error_handler(CannotPost, _handle_cannot_post)
    app.register_error_handler(Exception, _handle_unexpected)
