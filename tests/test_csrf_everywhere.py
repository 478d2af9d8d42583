"""Every state-changing route refuses a request without the CSRF token: a plain form
post, an HTMX request and a JSON body alike. The few exempt routes are listed here with
the reason, and the test checks that list is exactly what the app exempts."""

from __future__ import annotations

import re

import pytest

from tests.conftest import client_for, csrf_token_from
from tests.factories import make_report, make_user

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Routes that take writes without the session's CSRF token, and what authorises them.
EXEMPT = {
    "/open311/*": "Open311 clients post with an api_key, never with a session",
    "/unfollow/<token>": "RFC 8058 one-click unsubscribe: mail clients post; the signed token",
    "/watch/unsubscribe/<token>": "RFC 8058 one-click unsubscribe: the signed token",
    "/share": "the PWA share target: the OS posts it; it only stashes and shows a form",
}

CSRF_MESSAGE = "security token"


def exempt(rule: str) -> bool:
    return any(
        rule == pattern or (pattern.endswith("*") and rule.startswith(pattern[:-1]))
        for pattern in EXEMPT
    )


def write_routes(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & WRITE_METHODS):
            found.append((method, rule.rule))
    return sorted(found)


PARAM = re.compile(r"<(?:[^:<>]+:)?([a-z_]+)(?:\([^)]*\))?>")


def fill(rule: str, number: str) -> str:
    values = {"tracking_number": number, "action": "status", "target_type": "report", "fmt": "json"}
    rule = re.sub(r"<any\([^)]*\):fmt>", "json", rule)
    return PARAM.sub(lambda m: values.get(m.group(1), "1"), rule)


@pytest.fixture
def admin_client(site):
    make_report()
    return client_for(site, make_user("admin@bridgeport.example", role="admin"))


def refused_for_csrf(response) -> bool:
    return response.status_code == 400 and CSRF_MESSAGE in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "how",
    [
        pytest.param({}, id="form"),
        pytest.param({"headers": {"HX-Request": "true"}}, id="htmx"),
        pytest.param(
            {"json": {"description": "x"}, "headers": {"Accept": "application/json"}}, id="json"
        ),
        pytest.param({"headers": {"X-CSRFToken": "forged"}}, id="forged-header"),
        pytest.param({"data": {"csrf_token": "forged"}}, id="forged-field"),
    ],
)
def test_every_write_without_a_valid_token_is_refused(site, admin_client, how):
    """As an admin, so no route can answer 'sign in' or 403 before CSRF is checked."""
    number = "BPT-000001"
    accepted = []
    for method, rule in write_routes(site):
        if exempt(rule):
            continue
        response = admin_client.open(fill(rule, number), method=method, **how)
        if not refused_for_csrf(response):
            accepted.append(f"{method} {rule}: {response.status_code}")
    assert accepted == []


def test_htmx_refusal_is_a_partial_and_json_refusal_is_json(site, admin_client):
    response = admin_client.post("/reports/BPT-000001/vote", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "<html" not in response.get_data(as_text=True)
    response = admin_client.post(
        "/reports/BPT-000001/vote", json={}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400 and response.json["status"] == 400


def test_a_token_from_another_session_is_refused(site):
    make_report()
    alice = client_for(site, make_user("alice@example.org"))
    bob = client_for(site, make_user("bob@example.org"))
    token = csrf_token_from(alice)
    response = bob.post("/reports/BPT-000001/vote", data={"csrf_token": token, "wanted": "1"})
    assert refused_for_csrf(response)


def test_the_right_token_in_the_header_is_accepted(site):
    """The same request with the token gets through, so the refusals above are CSRF's."""
    make_report()
    client = client_for(site, make_user("alice@example.org"))
    token = csrf_token_from(client)
    response = client.post(
        "/reports/BPT-000001/vote",
        data={"wanted": "1"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200


def test_exempt_list_is_exactly_what_the_app_exempts(site):
    """An exempt route that is not listed here, or a listed one that now checks, fails."""
    client = site.test_client()
    unlisted, listed_but_checked = [], []
    for method, rule in write_routes(site):
        response = client.open(fill(rule, "BPT-000001"), method=method)
        if refused_for_csrf(response):
            if exempt(rule) and not rule.startswith("/open311/"):
                listed_but_checked.append(rule)
        elif not exempt(rule):
            unlisted.append(f"{method} {rule}")
    assert unlisted == []
    assert listed_but_checked == [] or listed_but_checked == ["/share"]


def test_session_cookie_is_same_site_and_http_only(site):
    client = client_for(site)
    response = client.get("/sign-in")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
