"""Every redirect back taken from what a visitor sent (``next`` on sign-in and the
language switcher, the referrer after a staff bulk action) goes through one check,
bpt311.redirects.safe_next: a hostile value lands on the safe default, never on another
site and never on a 500."""

from __future__ import annotations

import re

import pytest

from bpt311.accounts.service import hash_password
from bpt311.models import utcnow
from bpt311.redirects import safe_next
from tests.conftest import client_for, csrf_token_from, department
from tests.factories import make_report, make_user

PASSWORD = "correct horse battery"

# Each of these is another site, a script, or a broken header to some browser.
HOSTILE = [
    "//evil.example",
    "//evil.example/phish",
    "/\\evil.example",
    "\\\\evil.example",
    "/reports\\..\\evil",
    "/\t/evil.example",  # what the switcher on the 404 page /%09/evil.example carried
    "\t//evil.example",
    " //evil.example",
    "/\n/evil.example",
    "/\r\nSet-Cookie: stolen=1",
    "/reports\r\nLocation: https://evil.example/",
    "/\x00/evil.example",
    "/\u2028/evil.example",
    "/\u200b/evil.example",
    "http:evil.example",
    "http:/evil.example",
    "http://evil.example/",
    "https://evil.example/",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/" + "a" * 2001,
]


@pytest.mark.parametrize("target", HOSTILE)
def test_the_one_check_refuses_every_hostile_target(target):
    assert safe_next(target) == "/"
    assert safe_next(target, None) is None


@pytest.mark.parametrize(
    "target", ["/", "/reports/BPT-000001?tab=photos", "/reports?q=pot%20hole#list", "/kiosk/"]
)
def test_the_one_check_keeps_paths_on_this_site(target):
    assert safe_next(target) == target


def test_both_old_safe_next_helpers_are_the_one_check():
    from bpt311 import i18n
    from bpt311.accounts import views

    assert not hasattr(i18n, "safe_next") or i18n.safe_next is safe_next
    assert not hasattr(views, "safe_next") or views.safe_next is safe_next


# ---- through every route that takes one ------------------------------------------------------


@pytest.mark.parametrize("target", HOSTILE)
def test_the_language_switcher_never_leaves_the_site(client, target):
    response = client.post(
        "/language", data={"csrf_token": csrf_token_from(client), "lang": "es", "next": target}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_the_switcher_on_a_404_with_a_tab_in_its_path_goes_home(client):
    """The reported case: open /%09/evil.example (a 404) and press a language button."""
    page = client.get("/%09/evil.example")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    carried = re.search(r'name="next" value="([^"]*)"', html).group(1)
    response = client.post(
        "/language", data={"csrf_token": csrf_token_from(client), "lang": "pt", "next": carried}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert client.get_cookie("lang").value == "pt"


@pytest.fixture
def resident(app):
    return make_user(
        "maria@example.org", password_hash=hash_password(PASSWORD), email_verified_at=utcnow()
    )


@pytest.mark.parametrize("target", HOSTILE)
def test_sign_in_never_sends_anyone_to_another_site(client, resident, target):
    refused = "\x00" in target  # a NUL in a query string is refused before the page
    form = client.get("/sign-in", query_string={"next": target})
    assert form.status_code == (400 if refused else 200)
    if not refused:
        assert 'name="next" type="hidden" value=""' in form.get_data(as_text=True)
    response = client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_token_from(client, "/sign-in"),
            "email": "maria@example.org",
            "password": PASSWORD,
            "next": target,
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/me"
    # Already signed in: the same link goes to the account page too.
    again = client.get("/sign-in", query_string={"next": target})
    assert again.status_code == (400 if refused else 303)
    assert refused or again.headers["Location"] == "/me"


def roads_clerk():
    roads = department("Roadway Maintenance")
    return make_user("clerk@bridgeport.example", role="staff", department=roads)


# A header cannot carry a line break: those never arrive as a referrer.
@pytest.mark.parametrize("target", [t for t in HOSTILE if "\n" not in t])
def test_a_staff_bulk_action_goes_back_only_to_a_page_of_this_site(site, target):
    clerk = roads_clerk()
    report = make_report()
    client = client_for(site, clerk)
    response = client.post(
        "/staff/bulk",
        data={
            "csrf_token": csrf_token_from(client, "/staff/"),
            "ids": [f"{report.id}:{report.version}"],
            "action": "acknowledge",
        },
        headers={"Referer": "http://localhost" + target},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/"


def test_a_staff_bulk_action_goes_back_to_the_filtered_queue_it_came_from(site):
    clerk = roads_clerk()
    client = client_for(site, clerk)
    response = client.post(
        "/staff/bulk",
        data={"csrf_token": csrf_token_from(client, "/staff/"), "ids": [], "action": "x"},
        headers={"Referer": "http://localhost/staff/?status=open&page=2"},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/?status=open&page=2"
