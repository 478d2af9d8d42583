"""What admins set up for sending reports on (/staff/admin/open311): the city systems
(Open311 endpoints), where each department's and category's new reports go, and the sends
that were refused or given up, to retry.

Each change is one transaction with its audit row, as in :mod:`bpt311.staff.administration`;
a refusal raises :class:`Refused` with messages by form field before anything is written.
An endpoint's API key is stored and never shown again, nor written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from bpt311 import effects
from bpt311.audit import record
from bpt311.extensions import db
from bpt311.models import (
    SEND_METHODS,
    Category,
    Department,
    Open311Endpoint,
    OutboundRequest,
    Report,
    User,
)
from bpt311.outbound311 import endpoints as outbound
from bpt311.problems import Refused
from bpt311.reports.routing import Route, route_of

PROBLEM_STATES = ("refused", "dead")
PROBLEMS_SHOWN = 200
TEST_TIMEOUT = (5.0, 10.0)  # at most, for a page someone is waiting on


def key_ending(endpoint: Open311Endpoint) -> str:
    """The key's last four characters, for a long key only (a short one stays whole
    secret); "" otherwise."""
    key = endpoint.api_key or ""
    return key[-4:] if len(key) >= 16 else ""


@dataclass(frozen=True)
class EndpointRow:
    endpoint: Open311Endpoint
    counts: dict[str, int]
    key_ending: str


@dataclass(frozen=True)
class CategoryRow:
    category: Category
    route: Route


@dataclass
class Overview:
    endpoints: list[EndpointRow] = field(default_factory=list)
    departments: list[Department] = field(default_factory=list)
    categories: list[CategoryRow] = field(default_factory=list)
    problems: list[OutboundRequest] = field(default_factory=list)
    endpoint_names: dict[int, str] = field(default_factory=dict)


def overview() -> Overview:
    """Everything the admin page lists, in five queries whatever the numbers."""
    endpoints = db.session.scalars(select(Open311Endpoint).order_by(Open311Endpoint.name)).all()
    counts: dict[int, dict[str, int]] = {}
    for endpoint_id, state, count in db.session.execute(
        select(OutboundRequest.endpoint_id, OutboundRequest.state, func.count()).group_by(
            OutboundRequest.endpoint_id, OutboundRequest.state
        )
    ):
        counts.setdefault(endpoint_id, {})[state] = count
    departments = db.session.scalars(select(Department).order_by(Department.name)).all()
    by_id = {department.id: department for department in departments}
    categories = db.session.scalars(
        select(Category).order_by(Category.group, Category.position, Category.name)
    ).all()
    problems = db.session.scalars(
        select(OutboundRequest)
        .join(OutboundRequest.report)
        .join(OutboundRequest.endpoint)
        .options(contains_eager(OutboundRequest.report), contains_eager(OutboundRequest.endpoint))
        .where(OutboundRequest.state.in_(PROBLEM_STATES))
        .order_by(OutboundRequest.id.desc())
        .limit(PROBLEMS_SHOWN)
    ).all()
    return Overview(
        endpoints=[EndpointRow(e, counts.get(e.id, {}), key_ending(e)) for e in endpoints],
        departments=list(departments),
        categories=[CategoryRow(c, route_of(c, by_id.get(c.department_id))) for c in categories],
        problems=list(problems),
        endpoint_names={e.id: e.name for e in endpoints},
    )


def all_endpoints() -> list[Open311Endpoint]:
    return list(db.session.scalars(select(Open311Endpoint).order_by(Open311Endpoint.name)))


# ---- endpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointValues:
    name: str
    root_url: str
    api_key: str  # "" when editing: keep the stored one
    jurisdiction: str = ""


def save_endpoint(
    actor: User, values: EndpointValues, endpoint: Open311Endpoint | None = None
) -> Open311Endpoint:
    """Add a city system, or change one (an empty key keeps the stored key)."""
    errors = {}
    name = (values.name or "").strip()
    if not name or len(name) > outbound.NAME_MAX:
        errors["name"] = _("Give the city system a name of 1 to %(num)d characters",
                           num=outbound.NAME_MAX)  # fmt: skip
    elif name.lower() == "none":
        errors["name"] = _("“none” means sending nothing on: choose another name")
    elif db.session.scalar(
        select(Open311Endpoint.id).where(
            func.lower(Open311Endpoint.name) == name.lower(),
            Open311Endpoint.id != (endpoint.id if endpoint else 0),
        )
    ):
        errors["name"] = _("Another city system is called %(name)s", name=name)
    try:
        root_url = outbound.checked_root(values.root_url)
    except outbound.EndpointProblem as problem:
        errors["root_url"] = _(
            "Enter the root URL alone, starting with http:// or https://, with no query or"
            " user name (%(problem)s)",
            problem=problem,
        )
    api_key = (values.api_key or "").strip()
    if endpoint is None and not api_key:
        errors["api_key"] = _("Enter the API key the city system gave you")
    if errors:
        raise Refused(errors)
    is_new = endpoint is None
    endpoint = endpoint or Open311Endpoint(api_key="")
    changes = {}
    for attribute, value in (
        ("name", name),
        ("root_url", root_url),
        ("jurisdiction", (values.jurisdiction or "").strip()[:100]),
    ):
        if getattr(endpoint, attribute) != value:
            changes[attribute] = [getattr(endpoint, attribute), value]
            setattr(endpoint, attribute, value)
    key_changed = bool(api_key) and api_key != endpoint.api_key
    if key_changed:
        endpoint.api_key = api_key  # kept, never shown: the audit says only that it changed
    db.session.add(endpoint)
    db.session.flush()
    record(
        actor,
        "open311_endpoint.create" if is_new else "open311_endpoint.update",
        target_type="open311_endpoint",
        target_id=endpoint.id,
        name=name,
        changes=changes,
        api_key_changed=key_changed or None,
    )
    try:
        effects.commit()
    except IntegrityError as exc:  # the same name, saved at the same moment
        effects.rollback()
        raise Refused({"name": _("Another city system is called %(name)s", name=name)}) from exc
    return endpoint


def test_connection(endpoint: Open311Endpoint) -> list[dict]:
    """What the city system offers (its services.json), read with short timeouts; raises
    outbound.RemoteUnavailable with what went wrong. Changes nothing."""
    config = current_app.config
    # What the request needs, then no transaction held open while the system answers.
    target = SimpleNamespace(root_url=endpoint.root_url, jurisdiction=endpoint.jurisdiction)
    effects.rollback()
    timeout = (
        min(config["OPEN311_CONNECT_TIMEOUT"], TEST_TIMEOUT[0]),
        min(config["OPEN311_READ_TIMEOUT"], TEST_TIMEOUT[1]),
    )
    return outbound.services_of(target, timeout)


# ---- routes --------------------------------------------------------------------------------


def _checked_route(method: str, endpoint_id: int | None, department: Department, inherit: bool):
    allowed = ("", *SEND_METHODS) if inherit else SEND_METHODS
    if method not in allowed:
        raise Refused({"method": _("Choose where its new reports go")})
    if method == "open311":
        if endpoint_id is None or db.session.get(Open311Endpoint, endpoint_id) is None:
            raise Refused({"endpoint_id": _("Choose the city system to send them to")})
        return endpoint_id
    if method == "email" and not department.email:
        raise Refused(
            {
                "method": _(
                    "%(department)s has no email address: add one on its page first",
                    department=department.name,
                )
            }
        )
    return None


def set_department_route(
    actor: User, department: Department, method: str, endpoint_id: int | None
) -> None:
    """The default for the department's categories (a category may choose otherwise)."""
    endpoint_id = _checked_route(method, endpoint_id, department, inherit=False)
    before = [department.send_method, department.send_endpoint_id]
    department.send_method, department.send_endpoint_id = method, endpoint_id
    record(
        actor,
        "department.route",
        target_type="department",
        target_id=department.id,
        name=department.name,
        changes={"route": [before, [method, endpoint_id]]},
    )
    effects.commit()


@dataclass(frozen=True)
class CategoryRoute:
    method: str  # "" as its department says, else one of SEND_METHODS
    endpoint_id: int | None = None
    remote_service_code: str = ""
    attributes: dict[str, str] = field(default_factory=dict)  # our question code -> theirs


def set_category_route(actor: User, category: Category, route: CategoryRoute) -> None:
    endpoint_id = _checked_route(route.method, route.endpoint_id, category.department, True)
    code = (route.remote_service_code or "").strip()
    if len(code) > 64 or any(character.isspace() for character in code):
        raise Refused({"remote_service_code": _("Enter the code without spaces, like PH-01")})
    ours = {question.code for question in category.questions}
    names = {}
    for question_code, theirs in (route.attributes or {}).items():
        theirs = (theirs or "").strip()
        if question_code in ours and theirs and theirs != question_code:
            if len(theirs) > 64 or any(character.isspace() for character in theirs):
                raise Refused(
                    {f"attribute_{question_code}": _("Enter the code without spaces, like size")}
                )
            names[question_code] = theirs
    before = {
        "method": category.send_method,
        "endpoint_id": category.send_endpoint_id,
        "remote_service_code": category.remote_service_code,
        "remote_attributes": dict(category.remote_attributes or {}),
    }
    category.send_method = route.method
    category.send_endpoint_id = endpoint_id
    category.remote_service_code = code if route.method == "open311" else ""
    category.remote_attributes = names if route.method == "open311" else {}
    after = {
        "method": category.send_method,
        "endpoint_id": category.send_endpoint_id,
        "remote_service_code": category.remote_service_code,
        "remote_attributes": category.remote_attributes,
    }
    record(
        actor,
        "category.route",
        target_type="category",
        target_id=category.id,
        service_code=category.service_code,
        changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
    )
    effects.commit()


# ---- sends that need an admin --------------------------------------------------------------


def retry_request(actor: User, row: OutboundRequest) -> None:
    """Send a refused or given-up report again, with all its attempts (once: only a row in
    one of those states is taken back)."""
    if row.state not in PROBLEM_STATES:
        raise Refused(_("It is no longer waiting for a retry: it may have been retried already."))
    report: Report = row.report
    row.state, row.attempts, row.retry_at, row.lease_until = "pending", 0, None, None
    record(
        actor,
        "open311_request.retry",
        report,
        endpoint=row.endpoint.name,
        last_error=row.last_error[:300],
    )
    effects.start_job("open311", row)  # a worker sends it once committed (or the sweep)
    effects.commit()
