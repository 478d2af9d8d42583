"""The city work-order systems we send reports on to (Open311 GeoReport v2 endpoints): adding
and naming them, routing categories to them, what each offers, and the one guarded way this
package reads from them (:func:`get`: bounded timeouts, no redirects, only the operator's
origin). :mod:`.sending` sends reports there and :mod:`.syncing` brings their answers back.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import func, select

from bpt311 import effects, outbound
from bpt311.extensions import db
from bpt311.models import Category, Department, Open311Endpoint, OutboundRequest

NAME_MAX = 80
ERROR_MAX = 2000
STATES_SHOWN = ("pending", "sent", "refused", "dead")


class EndpointProblem(Exception):
    """A command about endpoints cannot be done; str() says why."""


class RemoteUnavailable(Exception):
    """The city system could not be read; str() says what it answered."""


# ---- configuration -------------------------------------------------------------------------


def checked_root(url: str) -> str:
    """The root URL, tidied; EndpointProblem if it cannot be one."""
    url = (url or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointProblem("The URL must start with http:// or https:// and name a host")
    if parts.query or parts.fragment or parts.username:
        raise EndpointProblem("Give the API's root URL alone, without a query or user name")
    destination(url + "/requests.json", url)
    return url


def _origin(root_url: str) -> str:
    parts = urlsplit(root_url)
    port = parts.port or outbound.DEFAULT_PORTS[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def destination(url: str, root_url: str) -> outbound.Destination:
    """An endpoint the operator configured may be http, on any port, on a private address
    (its origin is allowed by name); anything else the URL could aim at is refused."""
    try:
        return outbound.check_url(url, [_origin(root_url)])
    except outbound.DestinationRefused as exc:
        raise EndpointProblem(f"{url}: {exc}") from exc


def add_endpoint(name: str, url: str, api_key: str, jurisdiction: str = "") -> Open311Endpoint:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise EndpointProblem(f"Give the endpoint a name of 1 to {NAME_MAX} characters")
    if name.lower() == "none":
        raise EndpointProblem("'none' means sending nothing on: choose another name")
    if db.session.scalars(select(Open311Endpoint).where(Open311Endpoint.name == name)).first():
        raise EndpointProblem(f"An endpoint is already called {name!r}")
    if not (api_key or "").strip():
        raise EndpointProblem("Give the API key the city system gave us (--api-key)")
    endpoint = Open311Endpoint(
        name=name,
        root_url=checked_root(url),
        api_key=api_key.strip(),
        jurisdiction=(jurisdiction or "").strip(),
    )
    db.session.add(endpoint)
    effects.commit()
    return endpoint


def endpoint_named(name: str) -> Open311Endpoint:
    found = db.session.scalars(
        select(Open311Endpoint).where(Open311Endpoint.name == (name or "").strip())
    ).first()
    if found is None:
        raise EndpointProblem(f"No endpoint is called {name!r} (see: flask open311 endpoints list)")
    return found


def route_category(code: str, endpoint_name: str, service_code: str = "") -> Category:
    """Send CODE's new reports to the endpoint (``none``: keep them here)."""
    category = db.session.scalars(
        select(Category).where(Category.service_code == (code or "").strip())
    ).first()
    if category is None:
        raise EndpointProblem(f"No category has the service code {code!r}")
    if (endpoint_name or "").strip().lower() == "none":
        category.send_method = "none"
        category.send_endpoint_id = None
        category.remote_service_code = ""
    else:
        category.send_method = "open311"
        category.send_endpoint_id = endpoint_named(endpoint_name).id
        category.remote_service_code = (service_code or "").strip()[:64]
    effects.commit()
    return category


def endpoint_counts() -> list[tuple[Open311Endpoint, dict[str, int], list[str]]]:
    """Every endpoint, how many of its requests are in each state, and the categories
    routed to it (and the departments whose default it is)."""
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, state, count in db.session.execute(
        select(OutboundRequest.endpoint_id, OutboundRequest.state, func.count()).group_by(
            OutboundRequest.endpoint_id, OutboundRequest.state
        )
    ):
        counts.setdefault(endpoint_id, {})[state] = count
    routes: dict[int, list[str]] = {}
    for endpoint_id, code in db.session.execute(
        select(Category.send_endpoint_id, Category.service_code)
        .where(Category.send_method == "open311", Category.send_endpoint_id.is_not(None))
        .order_by(Category.service_code)
    ):
        routes.setdefault(endpoint_id, []).append(code)
    for endpoint_id, name in db.session.execute(  # departments whose default it is
        select(Department.send_endpoint_id, Department.name)
        .where(Department.send_method == "open311", Department.send_endpoint_id.is_not(None))
        .order_by(Department.name)
    ):
        routes.setdefault(endpoint_id, []).append(f"{name} (department default)")
    endpoints = db.session.scalars(select(Open311Endpoint).order_by(Open311Endpoint.name)).all()
    return [(e, counts.get(e.id, {}), routes.get(e.id, [])) for e in endpoints]


def timeouts() -> tuple[float, float]:
    config = current_app.config
    return (config["OPEN311_CONNECT_TIMEOUT"], config["OPEN311_READ_TIMEOUT"])


def get(endpoint_root: str, path: str, params: dict | None = None, timeout=None):
    url = f"{endpoint_root}/{path}"
    try:
        session = outbound.session_for(destination(url, endpoint_root))
    except EndpointProblem as exc:
        raise RemoteUnavailable(str(exc)) from exc
    try:
        with session:
            response = session.get(url, params=params, timeout=timeout or timeouts())
    except (requests.RequestException, outbound.DestinationRefused) as exc:
        raise RemoteUnavailable(f"{url}: {exc.__class__.__name__}: {exc}") from exc
    return response


def json_from(response, url: str):
    if response.status_code != 200:
        raise RemoteUnavailable(f"{url} answered {response.status_code}: {response.text[:300]}")
    try:
        return response.json()
    except ValueError as exc:
        raise RemoteUnavailable(f"{url} did not answer JSON") from exc


def services_of(
    endpoint: Open311Endpoint, timeout: tuple[float, float] | None = None
) -> list[dict]:
    """What the endpoint offers (its ``services.json``); ``timeout`` (connect, read) shortens
    the configured ones."""
    params = {"jurisdiction_id": endpoint.jurisdiction} if endpoint.jurisdiction else None
    response = get(endpoint.root_url, "services.json", params, timeout)
    found = json_from(response, endpoint.root_url)
    if not isinstance(found, list):
        raise RemoteUnavailable(f"{endpoint.root_url}/services.json is not a list of services")
    return [item for item in found if isinstance(item, dict)]
