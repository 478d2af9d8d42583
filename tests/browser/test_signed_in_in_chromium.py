"""Signed-in pages in a real browser: the vote and comment swaps, and the back office."""

from __future__ import annotations

import pytest

from tests.browser.conftest import axe_violations, horizontal_overflow, sign_in


@pytest.fixture(scope="module")
def pothole(live):
    """An open pothole report (Roadway Maintenance, the clerk's department)."""
    from tests.factories import make_report

    with live.app_context():
        return make_report("pothole", description="Deep pothole by the bus stop").tracking_number


def test_voting_swaps_in_place_and_is_announced(live, page_with_js, pothole):
    page = page_with_js
    sign_in(page, live.base_url, "maria@example.org")
    page.goto(f"{live.base_url}/reports/{pothole}")
    page.click("#vote-button")
    page.wait_for_function("() => document.getElementById('live').textContent.includes('want')")
    assert page.get_attribute("#vote-button", "aria-pressed") == "true"
    assert page.evaluate("() => document.activeElement.id") == "vote-button"
    assert axe_violations(page) == []
    page.click("#vote-button")  # and back
    page.wait_for_function(
        "() => document.getElementById('vote-button').getAttribute('aria-pressed') === 'false'"
    )


def test_commenting_swaps_the_conversation_and_is_announced(live, page_with_js, pothole):
    page = page_with_js
    sign_in(page, live.base_url, "maria@example.org")
    page.goto(f"{live.base_url}/reports/{pothole}")
    page.fill("#body", "Still there this morning, and deeper")
    page.click("button:has-text('Add comment')")
    page.wait_for_function(
        "() => document.getElementById('live').textContent.includes('comment was added')"
    )
    assert "Still there this morning" in page.locator("#conversation").inner_text()
    assert axe_violations(page) == []
    assert page.js_errors == []


@pytest.mark.parametrize(
    "path",
    [
        "/staff",
        "/staff/intake",
        "/staff/intake?category=pothole",
        "INSPECT",
        "/me",
        "/staff/moderation",
        "/staff/audit",
        "/watch",
        "/watch/new",
        "/feeds",
        "/me/notifications",
        "/me/settings",
    ],
)
def test_staff_pages_pass_axe_with_and_without_javascript(
    live, page_with_js, page_without_js, pothole, path
):
    target = live.base_url + path.replace("INSPECT", f"/staff/reports/{pothole}")
    for page in (page_with_js, page_without_js):
        sign_in(page, live.base_url, "clerk@bridgeport.example")
        page.goto(target)
        assert axe_violations(page) == []
        assert horizontal_overflow(page) <= 0


def test_an_inspector_action_swaps_in_place(live, page_with_js, pothole):
    page = page_with_js
    sign_in(page, live.base_url, "clerk@bridgeport.example")
    page.goto(f"{live.base_url}/staff/reports/{pothole}")
    page.check("input[name=action][value=note]")
    page.fill("#internal_note", "Checked from the office")
    page.click("#status-title ~ form button[type=submit]")
    page.wait_for_function("() => document.getElementById('live').textContent.includes('Saved')")
    assert "Checked from the office" in page.locator("#inspector").inner_text()
    assert axe_violations(page) == []
