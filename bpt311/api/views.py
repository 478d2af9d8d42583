"""The Open311 GeoReport v2 API, and pages for the city's website to embed.

Everything under ``/open311/`` answers in GeoReport's shape, errors included, in
the format its extension names (JSON when it names none). Machines call it with an
``api_key``, never with cookies, so it is exempt from CSRF and never touches the
session; the developer guide and the embeds live in :mod:`bpt311.api.pages`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request, stream_with_context
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException

from bpt311 import effects
from bpt311.api import georeport, intake, keys, service_requests, services, updates
from bpt311.api.discovery import discovery as discovery_document
from bpt311.api.openapi import openapi_document
from bpt311.errors import error_response
from bpt311.extensions import csrf, limiter
from bpt311.site import site_url

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)
csrf.exempt(bp)

V2 = "/open311/v2"
FMT = "<any(json, xml):fmt>"
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CACHE_A_WHILE = "public, max-age=300"
# The catalogue changes whenever an administrator edits it: clients revalidate each time
# (a cheap 304 by ETag) instead of keeping a stale list for minutes.
REVALIDATE = "public, no-cache"


def _revalidated(response: Response) -> Response:
    response.headers["Cache-Control"] = REVALIDATE
    response.add_etag()
    return response.make_conditional(request)


def _is_open311() -> bool:
    return request.path.startswith("/open311/")


@bp.before_app_request
def _options_say_what_is_allowed():
    """OPTIONS (a browser's CORS preflight, or a client asking) names only the methods the
    path really takes, not every method the catch-all below answers with an error."""
    if request.method != "OPTIONS" or not _is_open311():
        return None
    allowed = _allowed_methods(request.path)
    if not allowed:
        return georeport.errors(georeport.format_of(request.path), 404, "Not found")
    response = Response(status=204)
    response.headers["Allow"] = ", ".join(allowed)
    response.headers["Access-Control-Allow-Methods"] = ", ".join(allowed)
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


@bp.after_request
def _open_to_other_sites(response: Response) -> Response:
    """Any web page may read the API: it carries no cookies and no one's private data."""
    if _is_open311():
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# ---- services --------------------------------------------------------------------


@bp.get(f"{V2}/services.{FMT}")
def services_list(fmt: str):
    return _revalidated(georeport.document(fmt, "services", services.service_list()))


@bp.get(f"{V2}/services/<service_code>.{FMT}")
@bp.get(f"{V2}/service/<service_code>.{FMT}", endpoint="service_definition_singular")
def service_definition(service_code: str, fmt: str):
    code = service_code.strip()
    definition = (
        services.service_definition(code) if service_requests.SERVICE_CODE_RE.match(code) else None
    )
    if definition is None:
        return georeport.errors(fmt, 404, f"service_code {service_code!r} was not found")
    return _revalidated(georeport.document(fmt, "service_definition", definition))


# ---- requests --------------------------------------------------------------------


@bp.get(f"{V2}/requests.{FMT}")
def requests_list(fmt: str):
    try:
        query = service_requests.parse_query(request.args)
    except service_requests.BadQuery as exc:
        return georeport.errors(fmt, 400, str(exc))
    found, more = service_requests.requests_matching(query)
    body = georeport.streamed_list(fmt, "service_requests", found)
    response = Response(
        stream_with_context(body), content_type=f"{georeport.MIMETYPES[fmt]}; charset=utf-8"
    )
    _link_pages(response, query, more)
    return response


def _link_pages(response: Response, query, more: bool) -> None:
    """``Link`` (RFC 8288) to the next and previous pages of a paged query, the other
    parameters as sent."""
    if not query.paged:
        return
    page = query.page or 1
    links = []
    for number, rel in ((page + 1, "next"), (page - 1, "prev")):
        if (rel == "next" and more) or (rel == "prev" and number >= 1):
            args = request.args.copy()
            args["page"] = str(number)
            links.append(f'<{site_url()}{request.path}?{urlencode(args, doseq=True)}>; rel="{rel}"')
    if links:
        response.headers["Link"] = ", ".join(links)


@bp.get(f"{V2}/servicerequestupdates.{FMT}")
def request_updates(fmt: str):
    try:
        query = updates.parse_updates_query(request.args)
    except service_requests.BadQuery as exc:
        return georeport.errors(fmt, 400, str(exc))
    found, more = updates.updates_matching(query)
    response = georeport.document(fmt, "service_request_updates", list(found))
    _link_pages(response, query, more)
    return response


@bp.get(f"{V2}/requests/<service_request_id>.{FMT}", endpoint="request")
def one_request(service_request_id: str, fmt: str):
    found = service_requests.one_request(service_request_id)
    if found is None:
        return georeport.errors(
            fmt, 404, f"service_request_id {service_request_id!r} was not found"
        )
    return georeport.document(fmt, "service_requests", [found])


def _api_key_or_address() -> str:
    """Rate-limit key for filing through Open311: the API key sent (hashed: counters never
    hold a secret), so one partner's many servers share one allowance; else the address."""
    secret = (request.values.get("api_key") or "").strip()
    if not secret:
        return get_remote_address()
    return "open311-key:" + hashlib.sha256(secret.encode()).hexdigest()[:24]


@bp.post(f"{V2}/requests.{FMT}")
@limiter.limit("60/minute;1000/hour")  # per address
@limiter.limit(lambda: current_app.config["OPEN311_KEY_RATE_LIMIT"], key_func=_api_key_or_address)
def create_request(fmt: str):
    values = request.values
    secret = service_requests.clean(values.get("api_key"))
    if not secret:
        return georeport.errors(fmt, 403, "api_key was not provided: filing a request needs one")
    key = keys.key_in_use(secret)
    if key is None:
        return georeport.errors(fmt, 403, "api_key is not valid, or has been revoked")
    try:
        report = intake.take_request(values, key)
    except intake.RequestRefused as exc:
        return georeport.errors(fmt, exc.status, *exc.messages)
    made = {
        "service_request_id": report.tracking_number,
        "service_notice": service_requests.service_notice(report.category.sla_hours)
        + (service_requests.LOCATION_NOTICE if not report.has_point else ""),
        "account_id": None,
    }
    response = georeport.document(fmt, "service_requests", [made], 201)
    site = site_url()
    response.headers["Location"] = f"{site}{V2}/requests/{report.tracking_number}.{fmt}"
    return response


@bp.get(f"{V2}/tokens/<token>.{FMT}")
def token(token: str, fmt: str):
    found = service_requests.id_for_token(token)
    if found is None:
        return georeport.errors(fmt, 404, f"token {token!r} was not found")
    return georeport.document(
        fmt, "service_requests", [{"service_request_id": found, "token": token}]
    )


# ---- about the API ---------------------------------------------------------------


@bp.get(f"/open311/discovery.{FMT}")
@bp.get(f"{V2}/discovery.{FMT}", endpoint="discovery_v2")  # where clients look for it too
def discovery(fmt: str):
    response = georeport.document(fmt, "discovery", discovery_document())
    response.headers["Cache-Control"] = CACHE_A_WHILE
    return response


@bp.get("/open311/openapi.json")
def openapi():
    # Not jsonify: it sorts keys, and the spec's field order reads better.
    response = Response(json.dumps(openapi_document(), indent=1), mimetype="application/json")
    response.headers["Cache-Control"] = CACHE_A_WHILE
    return response


# ---- everything else under /open311/ answers in GeoReport's shape ----------------------


def _allowed_methods(path: str) -> list[str]:
    """The methods other routes accept at ``path``: this catch-all shadows the router's 405."""
    adapter = current_app.create_url_adapter(request)
    allowed = set()
    for method in ANY_METHOD:
        try:
            endpoint, _ = adapter.match(path, method=method)
        except HTTPException:
            continue
        if endpoint != "api.not_found":
            allowed.add(method)
    if "GET" in allowed:
        allowed.update(("HEAD", "OPTIONS"))
    return sorted(allowed)


@bp.route("/open311/", methods=ANY_METHOD, defaults={"rest": ""})
@bp.route("/open311/<path:rest>", methods=ANY_METHOD)
def not_found(rest: str):
    fmt = georeport.format_of(request.path)
    allowed = _allowed_methods(request.path)
    if allowed:
        return georeport.errors(
            fmt,
            405,
            f"{request.method} is not allowed here; use {', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )
    site = site_url()
    return georeport.errors(
        fmt,
        404,
        f"Nothing is at {request.path}. The endpoints are listed at "
        f"{site}/open311/discovery.json and explained at {site}/developers",
    )


# ---- errors raised inside these views --------------------------------------------------


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    code = exc.code or 500
    if not _is_open311():
        return error_response(code)
    messages = {
        413: "The request is too large",
        404: "Not found",
        500: "Something went wrong on our side and nothing was saved. Please try again.",
    }
    return georeport.errors(
        georeport.format_of(request.path), code, messages.get(code) or exc.description
    )


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    effects.rollback()
    log.exception("Unhandled error on %s %s", request.method, request.path)
    if not _is_open311():
        return error_response(500)
    return georeport.errors(
        georeport.format_of(request.path),
        500,
        "Something went wrong on our side and nothing was saved. Please try again.",
    )
