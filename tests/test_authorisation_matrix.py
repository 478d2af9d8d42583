"""Who may do what: every route in the app, called as six kinds of visitor.

The table below is keyed by the route as Flask knows it (``rule.rule``) or by a prefix
ending in ``*``; the longest match wins. A route that matches nothing fails
``test_every_route_has_a_rule``, so a new page cannot ship without deciding who may
use it: adding it is one line. Each visitor's answer is one exact status code (or a
redirect to sign in), so a route that starts to fail differently fails the test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from bpt311.community.comments import add_comment, delete_comment
from bpt311.extensions import db
from bpt311.models import (
    ApiKey,
    Comment,
    Media,
    Notice,
    Open311Endpoint,
    OutboundRequest,
    ResponseTemplate,
    SavedFilter,
    WatchArea,
    WatchEvent,
    utcnow,
)
from tests.conftest import client_for, csrf_token_from, department
from tests.factories import make_report, make_user

ROLES = ("guest", "resident", "other", "parks", "staff", "admin")

# What a visitor may get back: a status code, or a redirect to /sign-in (and back).
SIGN_IN = "sign-in"
OK, MOVED, BAD, DENY, GONE, INVALID = 200, 303, 400, 403, 404, 422


def _who(guest, resident, other, parks, staff, admin) -> dict[str, int | str]:
    return dict(zip(ROLES, (guest, resident, other, parks, staff, admin), strict=True))


def everyone(status: int) -> dict[str, int | str]:
    return _who(*[status] * len(ROLES))


def signed_in(status: int) -> dict[str, int | str]:
    """A guest is sent to sign in; everyone signed in gets ``status``."""
    return _who(SIGN_IN, *[status] * (len(ROLES) - 1))


PUBLIC = everyone(OK)
SIGNED_IN = signed_in(OK)
OWNER = _who(SIGN_IN, OK, DENY, DENY, DENY, DENY)  # the resident who made the thing
OWNER_404 = _who(SIGN_IN, OK, GONE, GONE, GONE, GONE)  # others are not told it exists
STAFF = _who(SIGN_IN, DENY, DENY, OK, OK, OK)
DEPARTMENT = _who(SIGN_IN, DENY, DENY, DENY, OK, OK)  # the report's department, or admin
ADMIN = _who(SIGN_IN, DENY, DENY, DENY, DENY, OK)
# Writes are sent with a CSRF token and no form: an allowed one that needs fields is a 422
# (the form again, with its errors), one that needs none is done (303).
STAFF_FORM = _who(SIGN_IN, DENY, DENY, INVALID, INVALID, INVALID)
STAFF_DONE = _who(SIGN_IN, DENY, DENY, MOVED, MOVED, MOVED)
DEPARTMENT_FORM = _who(SIGN_IN, DENY, DENY, DENY, INVALID, INVALID)
DEPARTMENT_DONE = _who(SIGN_IN, DENY, DENY, DENY, MOVED, MOVED)
ADMIN_FORM = _who(SIGN_IN, DENY, DENY, DENY, DENY, INVALID)
ADMIN_DONE = _who(SIGN_IN, DENY, DENY, DENY, DENY, MOVED)
ADMIN_GONE = _who(SIGN_IN, DENY, DENY, DENY, DENY, GONE)  # allowed, but names nothing

# (method, rule or prefix*) -> who gets what. GET rules also cover HEAD.
RULES: dict[tuple[str, str], dict[str, int | str]] = {
    # public pages and machine-readable outputs
    ("GET", "/"): PUBLIC,
    ("GET", "/static/*"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,  # open to the test client (loopback)
    ("GET", "/manifest.webmanifest"): PUBLIC,
    ("GET", "/sw.js"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/offline"): PUBLIC,
    ("GET", "/privacy"): PUBLIC,
    ("POST", "/language"): everyone(BAD),  # no language chosen
    ("GET", "/language"): everyone(BAD),  # the public pages' switcher, no language chosen
    ("GET", "/i18n/*"): PUBLIC,  # the scripts' words in Spanish/Portuguese (404 for others)
    ("GET", "/stats*"): PUBLIC,
    ("GET", "/kiosk*"): PUBLIC,
    ("GET", "/kiosk/reset"): everyone(MOVED),  # back to the kiosk's start
    ("GET", "/kiosk/reports/<tracking_number>/receipt"): everyone(MOVED),  # nothing to show
    ("POST", "/kiosk*"): everyone(MOVED),
    ("POST", "/kiosk/reports/<tracking_number>/text"): everyone(GONE),  # no SMS configured
    ("GET", "/share"): PUBLIC,
    ("POST", "/share"): everyone(MOVED),  # nothing shared: on to the report form
    ("GET", "/developers"): PUBLIC,
    ("GET", "/embed/*"): PUBLIC,
    ("GET", "/map"): PUBLIC,
    ("GET", "/feeds"): PUBLIC,
    ("GET", "/neighbourhoods*"): PUBLIC,
    ("GET", "/categories/*"): PUBLIC,
    ("GET", "/reports"): PUBLIC,
    ("GET", "/reports.csv"): PUBLIC,
    ("GET", "/reports.geojson"): PUBLIC,
    ("GET", "/reports/nearby"): PUBLIC,
    ("GET", "/reports/here"): everyone(INVALID),  # no place given
    ("GET", "/reports/here.json"): PUBLIC,
    ("GET", "/reports/new"): PUBLIC,
    ("POST", "/reports/new"): everyone(INVALID),
    ("GET", "/reports/<tracking_number>"): PUBLIC,
    ("GET", "/reports/<tracking_number>/submitted"): PUBLIC,
    ("GET", "/reports/<tracking_number>/feed.atom"): PUBLIC,
    # polled by HTMX while copies are made; a plain visit goes to the report
    ("GET", "/reports/<tracking_number>/photos"): everyone(MOVED),
    ("GET", "/media/<path:name>"): PUBLIC,
    ("GET", "/media/*"): everyone(GONE),  # variants of a photo: 404 until they are made
    ("GET", "/open311/*"): PUBLIC,
    ("GET", "/open311/"): everyone(GONE),
    ("GET", "/open311/<path:rest>"): everyone(GONE),  # GeoReport's own 404
    ("GET", "/open311/v2/tokens/<token>.<any(json, xml):fmt>"): everyone(GONE),
    # the api_key decides, not the session (tested in test_open311_keys.py)
    ("POST", "/open311/*"): everyone(GONE),
    ("POST", "/open311/v2/requests.<any(json, xml):fmt>"): everyone(DENY),  # no api_key
    ("PUT", "/open311/*"): everyone(GONE),
    ("PATCH", "/open311/*"): everyone(GONE),
    ("DELETE", "/open311/*"): everyone(GONE),
    ("GET", "/open311/v2/services.<any(json, xml):fmt>"): PUBLIC,
    ("GET", "/open311/v2/requests.<any(json, xml):fmt>"): PUBLIC,
    ("GET", "/open311/v2/requests/<service_request_id>.<any(json, xml):fmt>"): PUBLIC,
    # accounts: who is signed in already is sent on from the sign-in and register pages
    ("GET", "/register"): _who(OK, *[MOVED] * 5),
    ("POST", "/register"): _who(INVALID, *[MOVED] * 5),
    ("GET", "/register/check-email"): PUBLIC,
    ("GET", "/sign-in"): _who(OK, *[MOVED] * 5),
    ("POST", "/sign-in"): everyone(INVALID),
    ("POST", "/sign-out"): everyone(MOVED),
    ("GET", "/reset"): PUBLIC,
    ("POST", "/reset"): everyone(INVALID),
    ("GET", "/reset/sent"): PUBLIC,
    ("GET", "/reset/<token>"): everyone(BAD),  # signed links with a bad token
    ("POST", "/reset/<token>"): everyone(BAD),
    ("GET", "/verify/<token>"): everyone(BAD),
    ("GET", "/confirm-email/<token>"): everyone(BAD),
    ("GET", "/unfollow/<token>"): everyone(BAD),
    ("POST", "/unfollow/<token>"): everyone(BAD),
    ("GET", "/watch/unsubscribe/<token>"): everyone(BAD),
    ("POST", "/watch/unsubscribe/<token>"): everyone(BAD),
    ("GET", "/me*"): SIGNED_IN,
    ("POST", "/me*"): signed_in(MOVED),
    ("POST", "/me/settings"): _who(SIGN_IN, MOVED, MOVED, INVALID, INVALID, INVALID),
    ("POST", "/me/settings/email"): signed_in(INVALID),
    ("POST", "/me/settings/password"): signed_in(INVALID),
    ("POST", "/me/settings/delete"): signed_in(INVALID),
    ("GET", "/me/claim/<token>"): signed_in(BAD),
    ("GET", "/me/settings/push"): signed_in(GONE),  # 404 when web push is not configured
    ("POST", "/me/settings/push/*"): signed_in(GONE),
    ("POST", "/me/notifications/<int:notice_id>/read"): OWNER_404 | {"resident": MOVED},
    # community
    ("POST", "/reports/<tracking_number>/vote"): signed_in(MOVED),
    ("POST", "/reports/<tracking_number>/follow"): signed_in(MOVED),
    ("POST", "/reports/<tracking_number>/comments"): signed_in(INVALID),
    ("GET", "/reports/<tracking_number>/resume"): signed_in(MOVED),
    # the report page with its forms, for a guest who pressed "Me too" on the public page
    # (a signed-in person already has them on the report page: sent there)
    ("GET", "/reports/<tracking_number>/respond"): _who(OK, MOVED, MOVED, MOVED, MOVED, MOVED),
    # email updates without an account: anyone may ask (an empty form is a 422)
    ("POST", "/reports/<tracking_number>/email-updates"): everyone(INVALID),
    ("GET", "/email-updates/<token>"): everyone(BAD),  # the signed link decides
    ("GET", "/reports/<tracking_number>/reopen"): SIGNED_IN,
    # anyone signed in may ask; reopening a report that is still open is refused (403)
    ("POST", "/reports/<tracking_number>/reopen"): signed_in(DENY),
    ("GET", "/reports/<tracking_number>/close"): OWNER,
    ("POST", "/reports/<tracking_number>/close"): OWNER | {"resident": MOVED},
    ("GET", "/reports/<tracking_number>/edit"): OWNER,
    ("POST", "/reports/<tracking_number>/edit"): OWNER | {"resident": MOVED},
    ("GET", "/reports/<tracking_number>/withdraw"): OWNER,
    # runs after close (see ENDINGS), and a closed report cannot be withdrawn: 403
    ("POST", "/reports/<tracking_number>/withdraw"): signed_in(DENY),
    ("GET", "/comments/<int:comment_id>/edit"): OWNER,
    ("POST", "/comments/<int:comment_id>/edit"): OWNER | {"resident": MOVED},
    # the writer, and staff where they may moderate (their department's report; admins all),
    # as on /staff/moderation; other residents and other departments' staff may not
    ("GET", "/comments/<int:comment_id>/delete"): _who(SIGN_IN, OK, DENY, DENY, OK, OK),
    ("POST", "/comments/<int:comment_id>/delete"): _who(SIGN_IN, MOVED, DENY, DENY, MOVED, MOVED),
    ("GET", "/flag/*"): SIGNED_IN,
    ("POST", "/flag/*"): signed_in(INVALID),
    # watch areas: the owner's, private by default
    ("GET", "/watch"): PUBLIC,
    ("GET", "/watch/new"): SIGNED_IN,
    ("POST", "/watch/new"): signed_in(INVALID),
    ("GET", "/watch/<int:area_id>"): _who(GONE, OK, GONE, GONE, GONE, GONE),
    ("GET", "/watch/<int:area_id>/feed.atom"): everyone(GONE),
    ("GET", "/watch/<int:area_id>/edit"): OWNER_404,
    ("POST", "/watch/<int:area_id>/edit"): OWNER_404 | {"resident": INVALID},
    ("GET", "/watch/<int:area_id>/delete"): OWNER_404,
    ("POST", "/watch/<int:area_id>/delete"): OWNER_404 | {"resident": MOVED},
    ("POST", "/watch/<int:area_id>/pause"): OWNER_404 | {"resident": MOVED},
    # the owner hears about their own area already; following it is refused
    ("POST", "/watch/<int:area_id>/follow"): _who(GONE, DENY, GONE, GONE, GONE, GONE),
    # the back office
    ("GET", "/staff*"): STAFF,
    ("POST", "/staff*"): STAFF_DONE,
    ("POST", "/staff/intake"): STAFF_FORM,
    ("GET", "/staff/reports/<tracking_number>"): DEPARTMENT,
    ("POST", "/staff/reports/<tracking_number>/<action>"): DEPARTMENT_FORM,
    # a saved filter is its owner's: another's is not found
    ("POST", "/staff/filters/<int:filter_id>/delete"): _who(SIGN_IN, DENY, DENY, GONE, MOVED, GONE),
    ("GET", "/staff/templates*"): ADMIN,
    ("POST", "/staff/templates*"): ADMIN_FORM,
    ("POST", "/staff/templates/<int:template_id>/delete"): ADMIN_DONE,
    ("GET", "/staff/admin*"): ADMIN,
    ("POST", "/staff/admin*"): ADMIN_FORM,
    # admin writes that need no fields
    ("POST", "/staff/admin/api-keys/<int:key_id>/revoke"): ADMIN_DONE,
    # Open311 routes: a department or category sent nowhere (no choice given) is a valid
    # save; a test of a system on a closed port answers with the error on the page.
    ("POST", "/staff/admin/open311/departments/<int:department_id>"): ADMIN_DONE,
    ("POST", "/staff/admin/open311/categories/<int:category_id>"): ADMIN_DONE,
    ("POST", "/staff/admin/open311/endpoints/<int:endpoint_id>/test"): ADMIN,
    ("POST", "/staff/admin/open311/requests/<int:request_id>/retry"): ADMIN_DONE,
    ("POST", "/staff/admin/categories/<int:category_id>/active"): ADMIN_DONE,
    ("POST", "/staff/admin/categories/<int:category_id>/delete"): ADMIN_DONE,
    ("POST", "/staff/admin/categories/<int:category_id>/questions/<int:question_id>/delete"): (
        ADMIN_DONE
    ),
    ("POST", "/staff/admin/jobs/emails/*"): ADMIN_DONE,
    ("POST", "/staff/admin/jobs/discard"): ADMIN_GONE,  # no such job
    ("POST", "/staff/admin/jobs/retry"): ADMIN_GONE,
    ("POST", "/staff/admin/places/apply"): ADMIN_DONE,  # nothing uploaded: back to the page
    ("POST", "/staff/admin/users/<int:user_id>"): ADMIN_DONE,
    ("POST", "/staff/admin/users/<int:user_id>/active"): ADMIN_DONE,
    ("POST", "/staff/moderation/<target_type>/*"): DEPARTMENT_DONE,
    ("POST", "/staff/moderation/<target_type>/<int:target_id>/hide"): DEPARTMENT_FORM,
    ("POST", "/staff/moderation/users/*"): ADMIN_DONE,
}

# Routes whose parameters cannot be filled from the world below, with the reason.
SKIPPED: dict[str, str] = {}


def rule_for(method: str, rule: str) -> dict[str, str] | None:
    exact = RULES.get((method, rule))
    if exact is not None:
        return exact
    prefixes = [
        (len(pattern), expected)
        for (rule_method, pattern), expected in RULES.items()
        if rule_method == method and pattern.endswith("*") and rule.startswith(pattern[:-1])
    ]
    return max(prefixes, key=lambda found: found[0])[1] if prefixes else None


def routes(app) -> list[tuple[str, str, str]]:
    """(method, rule, endpoint) for every route, HEAD and OPTIONS left to Werkzeug."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule, rule.endpoint))
    return sorted(found)


def test_every_route_has_a_rule(app):
    missing = [
        f"{method} {rule}"
        for method, rule, _ in routes(app)
        if rule_for(method, rule) is None and rule not in SKIPPED
    ]
    assert missing == [], "add these routes to RULES in tests/test_authorisation_matrix.py"


# ---- the world every call runs against ------------------------------------------------------


@pytest.fixture
def world(site):
    roads = department("Roadway Maintenance")
    people = {
        "resident": make_user("owner@example.org", display_name="Owner"),
        "other": make_user("other@example.org", display_name="Other"),
        "parks": make_user(
            "parks@bridgeport.example", role="staff", department=department("Parks and Recreation")
        ),
        "staff": make_user("roads@bridgeport.example", role="staff", department=roads),
        "admin": make_user("admin@bridgeport.example", role="admin"),
    }
    owner = people["resident"]
    report = make_report(
        reporter_id=owner.id,
        contact_name="Private Person",
        contact_email="private.person@example.org",
        contact_phone="203-555-0199",
    )
    comment = add_comment(report, owner, "A comment by the owner.")
    media_root = Path(site.config["MEDIA_ROOT"])
    media_root.mkdir(parents=True, exist_ok=True)
    (media_root / "matrixphoto.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    db.session.add(
        Media(
            report=report,
            kind="photo",
            file_name="matrixphoto.jpg",
            thumb_name="",
            content_type="image/jpeg",
            size_bytes=10,
        )
    )
    area = WatchArea(
        owner=owner,
        name="Near home",
        shape="circle",
        geometry_json=json.dumps({"type": "Point", "coordinates": [-73.1894, 41.1792]}),
        place_label="45 Lyon Terrace",
        radius_m=300,
        min_lat=41.17,
        min_lon=-73.2,
        max_lat=41.19,
        max_lon=-73.18,
    )
    db.session.add(area)
    template = ResponseTemplate(status="closed", title="Filled", body="We filled it.")
    key = ApiKey(name="Matrix app", key_hash="0" * 64, prefix="matrix")
    db.session.add(key)
    saved = SavedFilter(user_id=people["staff"].id, name="Mine", query="status=open")
    db.session.add_all([template, saved])
    db.session.commit()
    event = WatchEvent(report=report, kind="new", headline="A new report near you")
    notice = Notice(event=event, user_id=owner.id, area=area, delivery="email")
    db.session.add_all([event, notice])
    city_system = Open311Endpoint(
        name="Matrix works", root_url="http://127.0.0.1:9/open311/v2", api_key="matrix-key"
    )
    db.session.add(city_system)
    db.session.flush()
    given_up = OutboundRequest(
        report_id=report.id, endpoint_id=city_system.id, state="dead", last_error="answered 500"
    )
    db.session.add(given_up)
    db.session.commit()
    values = {
        "tracking_number": report.tracking_number,
        "service_request_id": report.tracking_number,
        "comment_id": comment.id,
        "area_id": area.id,
        "notice_id": notice.id,
        "template_id": template.id,
        "filter_id": saved.id,
        "user_id": people["other"].id,
        "target_type": "report",
        "target_id": report.id,
        "action": "status",
        "service_code": "pothole",
        "slug": "downtown",
        "fmt": "json",
        "name": "matrixphoto.jpg",
        "filename": "css/site.css",
        "token": "not-a-real-token",
        "rest": "nothing-here",
        "table": "departments",
        "category_id": report.category_id,
        "question_id": report.category.questions[0].id if report.category.questions else 1,
        "department_id": roads.id,
        "key_id": key.id,
        "endpoint_id": city_system.id,
        "request_id": given_up.id,
        "language": "es",
    }
    return {"site": site, "people": people, "report": report, "values": values}


PARAM = re.compile(r"<(?:[^:<>]+:)?([a-z_]+)(?:\([^)]*\))?>")


def fill(rule: str, values: dict) -> str:
    rule = re.sub(r"<any\([^)]*\):fmt>", "json", rule)

    def value(match):
        name = match.group(1)
        assert name in values, f"no value for <{name}> in {rule}: add one to world()"
        return str(values[name])

    return PARAM.sub(value, rule)


def answer_class(response) -> int | str:
    """The status code, or SIGN_IN for a redirect to the sign-in page."""
    location = response.headers.get("Location", "") or response.headers.get("HX-Redirect", "")
    if response.status_code in (301, 302, 303, 307, 308) and "/sign-in" in location:
        return SIGN_IN
    return response.status_code


def call(client, method: str, path: str, token: str):
    if method == "GET":
        return client.get(path)
    data = {"csrf_token": token}
    return client.open(path, method=method, data=data, headers={"X-CSRFToken": token})


# Writes that end something run last, so they do not change the answer to the others.
ENDINGS = (
    "/close",
    "/withdraw",
    "/delete",
    "/hide",
    "/dismiss",
    "/ban",
    "/sign-out",
    "/sign-out-everywhere",
)


def _ending(rule: str) -> int:
    return next((i for i, end in enumerate(ENDINGS) if rule.endswith(end)), -1)


def run_matrix(world, methods: set[str], roles=ROLES) -> list[str]:
    site = world["site"]
    wrong = []
    app_routes = sorted(
        (r for r in routes(site) if r[0] in methods and r[1] not in SKIPPED),
        key=lambda r: (_ending(r[1]), r[1], r[0]),
    )
    for role in roles:
        user = world["people"].get(role)
        for method, rule, _endpoint in app_routes:
            expected = rule_for(method, rule)[role]
            # A fresh browser each call: one call's sign-out must not decide the next answer.
            client = client_for(site, user)
            token = csrf_token_from(client) if method != "GET" else ""
            path = fill(rule, world["values"])
            response = call(client, method, path, token)
            got = answer_class(response)
            if got != expected:
                wrong.append(f"{role:8} {method:6} {path}: got {got}, expected {expected}")
            db.session.rollback()
    return wrong


def test_every_page_answers_each_kind_of_visitor_as_expected(world):
    wrong = run_matrix(world, {"GET"})
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("role", ROLES)
def test_every_write_answers_each_kind_of_visitor_as_expected(world, role):
    """POSTs with a valid CSRF token but no form: who gets in, not whether it succeeds.
    Each role starts from a fresh world, since an allowed write changes it."""
    wrong = run_matrix(world, {"POST", "PUT", "PATCH", "DELETE"}, roles=(role,))
    assert wrong == [], "\n".join(wrong)


# ---- what IDs in URLs may reveal -----------------------------------------------------------

PRIVATE = ("Private Person", "private.person@example.org", "203-555-0199", "5550199")
PUBLIC_OUTPUTS = [
    "/",
    "/reports",
    "/reports?q=pothole",
    "/map",
    "/reports.csv",
    "/reports.geojson",
    "/open311/v2/requests.json",
    "/open311/v2/requests.xml",
    "/open311/v2/requests/{n}.json",
    "/open311/v2/requests/{n}.xml",
    "/reports/{n}",
    "/reports/{n}/submitted",
    "/reports/{n}/feed.atom",
    "/categories/pothole/feed.atom",
    "/embed/recent",
]


def test_contact_details_never_reach_a_public_output(world):
    site, report = world["site"], world["report"]
    number = report.tracking_number
    for role in ("guest", "other"):
        client = client_for(site, world["people"].get(role))
        for path in PUBLIC_OUTPUTS:
            response = client.get(path.format(n=number))
            assert response.status_code == 200, path
            body = response.get_data(as_text=True)
            assert number in body or "BPT-" in body or path == "/map", path
            leaked = [value for value in PRIVATE if value in body]
            assert leaked == [], f"{role} sees {leaked} on {path}"


def test_staff_of_the_department_do_see_the_contact(world):
    site, report = world["site"], world["report"]
    page = client_for(site, world["people"]["staff"]).get(
        f"/staff/reports/{report.tracking_number}"
    )
    assert "private.person@example.org" in page.get_data(as_text=True)


def test_a_hidden_report_is_not_found_by_anyone_outside_the_city(world):
    site, report = world["site"], world["report"]
    report.hidden_at, report.hidden_reason = utcnow(), "Abusive"
    db.session.commit()
    number = report.tracking_number
    paths = [
        f"/reports/{number}",
        f"/reports/{number}/submitted",
        f"/reports/{number}/feed.atom",
        f"/open311/v2/requests/{number}.json",
        "/media/matrixphoto.jpg",
    ]
    for role in ("guest", "resident", "other"):
        client = client_for(site, world["people"].get(role))
        for path in paths:
            assert client.get(path).status_code == 404, (role, path)
        for path in ("/reports", "/reports.csv", "/reports.geojson", "/open311/v2/requests.json"):
            assert number not in client.get(path).get_data(as_text=True), (role, path)
    staff = client_for(site, world["people"]["staff"])
    assert staff.get(f"/staff/reports/{number}").status_code == 200


def test_guessing_ids_reveals_nothing(world):
    """Numbers next to a real one answer 404, never someone's data or a 500."""
    site = world["site"]
    client = client_for(site, world["people"]["other"])
    report_id = world["report"].id
    for number in (0, report_id + 1, report_id + 1000, 999999999):
        for path in (
            f"/reports/BPT-{number:06d}",
            f"/comments/{number}/edit",
            f"/watch/{number}",
            f"/watch/{number}/feed.atom",
            f"/open311/v2/requests/BPT-{number:06d}.json",
        ):
            if number == 0 and path.startswith("/reports/"):
                continue
            assert client.get(path).status_code == 404, path


def test_a_withdrawn_or_deleted_comment_is_not_editable(world):
    site = world["site"]
    comment = db.session.scalars(select(Comment)).one()
    comment.deleted_at = utcnow()
    db.session.commit()
    owner = client_for(site, world["people"]["resident"])
    assert owner.get(f"/comments/{comment.id}/edit").status_code == 404


# ---- how uploaded files are served ---------------------------------------------------------


def _add_media(site, report, file_name, content_type, content: bytes):
    root = Path(site.config["MEDIA_ROOT"])
    (root / file_name).write_bytes(content)
    db.session.add(
        Media(
            report=report,
            kind="photo",
            file_name=file_name,
            content_type=content_type,
            size_bytes=len(content),
        )
    )
    db.session.commit()


@pytest.mark.parametrize(
    "file_name, content_type, served_as, disposition",
    [
        ("evil.html", "image/jpeg", "image/jpeg", "inline"),  # the row decides, not the name
        ("evil.svg", "image/jpeg", "image/jpeg", "inline"),
        # a row that somehow says HTML is still not served as HTML: a download
        ("evil.jpg", "text/html", "application/octet-stream", "attachment"),
    ],
)
def test_uploads_are_never_served_as_html(world, file_name, content_type, served_as, disposition):
    site, report = world["site"], world["report"]
    _add_media(site, report, file_name, content_type, b"<html><script>alert(1)</script></html>")
    response = client_for(site).get(f"/media/{file_name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == served_as
    assert response.headers["Content-Disposition"] == disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response.headers["Content-Security-Policy"]


def test_photos_are_served_with_their_type_and_nosniff(world):
    response = client_for(world["site"]).get("/media/matrixphoto.jpg")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("inline")


@pytest.mark.parametrize(
    "path", ["/media/../bpt311.sqlite", "/media/%2e%2e/x", "/media/pending", "/media/nothing.jpg"]
)
def test_media_route_serves_only_named_files(world, path):
    assert client_for(world["site"]).get(path).status_code == 404


# ---- what moderators hid leaves no trace in public ---------------------------------------

HIDDEN_REPORT_TEXT = "Zebracrossing hiddenreportmarker"
HIDDEN_COMMENT_TEXT = "Quokka hiddencommentmarker"
DELETED_COMMENT_TEXT = "Wombat deletedcommentmarker"
HIDDEN_PHOTOS = ("hiddenreport.jpg", "hiddencomment.jpg", "deletedcomment.jpg")


@pytest.fixture
def hidden_world(world):
    """The world plus, hidden by moderators: a report near the visible one (same kind, open,
    with a photo) and a comment with a photo on the visible one; and a comment with a photo
    its writer deleted. The resident's area hears of new reports and comments by email,
    and did hear of all three before they were hidden."""
    from bpt311.staff.moderation.queries import load_items
    from bpt311.staff.moderation.service import hide
    from bpt311.watchers.events import announce

    site, report, people = world["site"], world["report"], world["people"]
    area = db.session.scalars(select(WatchArea)).one()
    area.wants_comments = True
    writer = make_user("writer@example.org", display_name="Writer")
    db.session.commit()
    root = Path(site.config["MEDIA_ROOT"])
    # A number no example or count on any page could show by chance.
    hidden = make_report(id=424242, description=HIDDEN_REPORT_TEXT, latitude=41.17925)
    announce(hidden, "new")
    db.session.commit()
    comment = add_comment(report, writer, HIDDEN_COMMENT_TEXT)
    gone = add_comment(report, writer, DELETED_COMMENT_TEXT)
    for name, target, on_comment in zip(
        HIDDEN_PHOTOS, (hidden, report, report), (None, comment, gone), strict=True
    ):
        (root / name).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        db.session.add(
            Media(
                report_id=target.id,
                comment_id=on_comment.id if on_comment else None,
                kind="photo",
                file_name=name,
                content_type="image/jpeg",
                size_bytes=10,
            )
        )
    db.session.commit()
    admin = people["admin"]
    for target_type, target in (("report", hidden), ("comment", comment)):
        item = load_items([(target_type, target.id)])[0]
        hide(item, admin, "Abusive")
    delete_comment(gone, writer)
    values = {
        **world["values"],
        "tracking_number": hidden.tracking_number,
        "service_request_id": hidden.tracking_number,
        "comment_id": comment.id,
        "target_id": hidden.id,
    }
    return {
        **world,
        "hidden": hidden,
        "comment": comment,
        "deleted": gone,
        "writer": writer,
        "hidden_values": values,
    }


def _traces(body: str, hidden, path: str = "") -> list[str]:
    """What ``body`` shows of the hidden things; the hidden report's number counts only
    when the visitor did not type it themselves (a 404 page may name the path asked for)."""
    markers = ("hiddenreportmarker", "hiddencommentmarker", "deletedcommentmarker")
    found = [marker for marker in (*markers, *HIDDEN_PHOTOS) if marker in body]
    found = [marker for marker in found if marker not in path]
    if hidden.tracking_number not in path and hidden.tracking_number in body:
        found.append(hidden.tracking_number)
    return found


def _public_paths(world) -> list[str]:
    """Every GET route, with the world's ids (and the hidden ones'), and the outputs that
    take a query: the duplicate check, searches, feeds and the API's filters."""
    report = world["report"]
    near = f"latitude={report.latitude}&longitude={report.longitude}"
    paths = {
        f"/reports/nearby?category=pothole&{near}",
        "/reports?q=zebracrossing",
        "/reports?q=pothole",
        "/reports.csv?q=pothole",
        "/reports.geojson?category=pothole",
        "/open311/v2/requests.json?service_code=pothole",
        "/open311/v2/requests.xml",
        "/embed/recent",
        "/categories/pothole/feed.atom",
        "/neighbourhoods",
        "/stats",
        "/feeds",
        "/watch",
        "/me/notifications",
    }
    for method, rule, _endpoint in routes(world["site"]):
        if method != "GET" or rule in SKIPPED or rule.startswith("/static/"):
            continue
        paths.add(fill(rule, world["values"]))
        paths.add(fill(rule, world["hidden_values"]))
    for name in HIDDEN_PHOTOS:
        paths.add(f"/media/{name}")
    return sorted(paths)


@pytest.mark.parametrize("role", ("guest", "resident", "other"))
def test_what_moderators_hid_leaves_no_trace_on_any_public_page(hidden_world, role):
    """Every GET route, as a guest, the resident whose area heard of it all and another
    resident: no word of the hidden report or comment, of the deleted comment, nor their
    photos or the hidden report's number."""
    site = hidden_world["site"]
    wrong = []
    for path in _public_paths(hidden_world):
        client = client_for(site, hidden_world["people"].get(role))
        response = client.get(path)
        body = response.get_data().decode("utf-8", "replace")
        body += response.headers.get("Location", "")
        traces = _traces(body, hidden_world["hidden"], path)
        if path.removeprefix("/media/") in HIDDEN_PHOTOS and response.status_code != 404:
            traces.append("the file itself")
        if traces:
            wrong.append(f"{path}: {response.status_code} shows {traces}")
        db.session.rollback()
    assert wrong == [], "\n".join(wrong)


HIDDEN_TEST = re.compile(
    r"\b(?:Report|report|Comment|comment)\.hidden_at\s*"
    r"(?:\.is_\(None\)|\.is_not\(None\)|is None|is not None)"
)


def test_one_rule_decides_what_the_public_may_see():
    """Report/Comment/WatchEvent.publicly_visible and Media.visible_to, in the models, are
    the only tests of "hidden": a new public read uses them instead of its own."""
    root = Path(__file__).resolve().parent.parent / "bpt311"
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in root.rglob("*.py")
        if "models" not in path.relative_to(root).parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HIDDEN_TEST.search(line)
    ]
    assert found == [], "use Report.publicly_visible / Comment.publicly_visible:\n" + "\n".join(
        found
    )


def test_the_hidden_things_themselves_are_not_found(hidden_world):
    site, hidden = hidden_world["site"], hidden_world["hidden"]
    number, comment = hidden.tracking_number, hidden_world["comment"]
    resident = hidden_world["people"]["resident"]
    for user in (None, resident, hidden_world["writer"]):
        client = client_for(site, user)
        for path in (
            f"/reports/{number}",
            f"/reports/{number}/photos",
            f"/flag/report/{hidden.id}",
            f"/flag/comment/{comment.id}",
            *[f"/media/{name}" for name in HIDDEN_PHOTOS],
        ):
            expected = 302 if user is None and path.startswith("/flag/") else 404
            assert client.get(path).status_code == expected, (user, path)
    writer = client_for(site, hidden_world["writer"])
    assert writer.get(f"/comments/{comment.id}/edit").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/reports/{n}/vote",
        "/reports/{n}/follow",
        "/reports/{n}/comments",
        "/flag/report/{id}",
        "/flag/comment/{comment}",
    ],
)
def test_nobody_acts_on_a_hidden_report_or_comment(hidden_world, path):
    hidden, comment = hidden_world["hidden"], hidden_world["comment"]
    other = hidden_world["people"]["other"]
    client = client_for(hidden_world["site"], other)
    token = csrf_token_from(client)
    target = path.format(n=hidden.tracking_number, id=hidden.id, comment=comment.id)
    data = {"csrf_token": token, "body": "Me too, this is still here.", "reason": "spam"}
    assert client.post(target, data=data).status_code == 404
    from bpt311.models import Flag, Follow, Vote

    for model in (Flag, Vote, Follow):
        assert db.session.scalars(select(model).where(model.user_id == other.id)).all() == []


def test_emails_not_yet_sent_say_nothing_of_what_was_hidden(hidden_world):
    """Watchers' notice emails still waiting in the outbox are dropped with what they
    tell; the poster's own "your comment was hidden" email is theirs to read."""
    from bpt311.models import Outbox

    writer = hidden_world["writer"]
    waiting = db.session.scalars(select(Outbox).where(Outbox.status == "pending")).all()
    leaks = [
        (row.recipient, row.subject)
        for row in waiting
        if row.recipient != writer.email
        and _traces(row.body_text + row.body_html, hidden_world["hidden"])
    ]
    assert leaks == []


def test_staff_still_see_what_was_hidden(hidden_world):
    site, hidden = hidden_world["site"], hidden_world["hidden"]
    staff = client_for(site, hidden_world["people"]["staff"])
    page = staff.get(f"/staff/reports/{hidden.tracking_number}").get_data(as_text=True)
    assert "hiddenreportmarker" in page
    for name in HIDDEN_PHOTOS[:2]:
        response = staff.get(f"/media/{name}")
        assert response.status_code == 200, name
        assert response.headers["Cache-Control"].startswith("private"), name
