"""The back office on an office screen (1366×768): reports on the queue's first screen
with the filters folded and shown as chips, and the inspector's map, place and focus."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import axe_violations, horizontal_overflow, sign_in

OFFICE_SCREEN = {"width": 1366, "height": 768}
CLERK = "clerk@bridgeport.example"


@pytest.fixture
def office_page(browser):
    context = browser.new_context(viewport=OFFICE_SCREEN, bypass_csp=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()


@pytest.fixture(scope="module")
def pothole(live):
    """An open pothole report (Roadway Maintenance, the clerk's department)."""
    from tests.factories import make_report

    with live.app_context():
        return make_report("pothole", description="Pothole on the office screen").tracking_number


def in_first_screen(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= OFFICE_SCREEN["height"]


def test_the_queue_shows_reports_on_the_first_screen_with_the_filters_folded(
    live, office_page, pothole
):
    page = office_page
    sign_in(page, live.base_url, CLERK)
    page.goto(live.base_url + "/staff")
    assert page.locator("details.filters-panel").get_attribute("open") is None
    assert not page.locator("#filters").is_visible()
    assert in_first_screen(page, ".table--queue tbody tr")
    page.click("details.filters-panel > summary")
    assert page.locator("#filters").is_visible()
    assert axe_violations(page) == []
    assert horizontal_overflow(page) <= 0


def test_a_chip_drops_its_filter_with_javascript(live, office_page, pothole):
    page = office_page
    sign_in(page, live.base_url, CLERK)
    page.goto(live.base_url + "/staff?category=pothole&source=web")
    chips = page.locator("a.chip")
    assert chips.count() == 2
    assert in_first_screen(page, ".table--queue tbody tr")
    assert axe_violations(page) == []
    page.click("a.chip:has-text('Source')")
    page.wait_for_url(re.compile(r"/staff/?\?category=pothole$"))
    assert page.locator("a.chip").count() == 1
    assert page.locator("#filters #category").input_value() == "pothole"
    assert page.js_errors == []


def test_the_queue_folds_and_drops_filters_without_javascript(live, page_without_js, pothole):
    page = page_without_js
    sign_in(page, live.base_url, CLERK)
    page.goto(live.base_url + "/staff?category=pothole&status=open")
    assert page.locator("details.filters-panel").get_attribute("open") is None
    page.click("a.chip:has-text('Status')")
    page.wait_for_url(re.compile(r"/staff/?\?category=pothole$"))
    assert page.locator("a.chip").count() == 1
    page.click("details.filters-panel > summary")
    page.select_option("#filters #category", "")
    page.click("#filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("a.chip").count() == 0
    assert axe_violations(page) == []


def test_the_inspector_shows_the_place_on_a_map(live, office_page, pothole):
    page = office_page
    sign_in(page, live.base_url, CLERK)
    page.goto(f"{live.base_url}/staff/reports/{pothole}")
    assert re.search(r"-?\d+\.\d{6}, -?\d+\.\d{6}", page.locator(".coordinates").inner_text())
    page.locator(".inspector-place").scroll_into_view_if_needed()
    page.locator(".inspector-place .leaflet-container").wait_for(state="visible")
    assert axe_violations(page) == []
    assert page.js_errors == []


def test_the_inspector_gives_the_place_in_words_without_javascript(live, page_without_js, pothole):
    page = page_without_js
    sign_in(page, live.base_url, CLERK)
    page.goto(f"{live.base_url}/staff/reports/{pothole}")
    coordinates = page.locator(".coordinates").inner_text()
    link = page.get_by_role("link", name="Open in OpenStreetMap")
    lat, lon = coordinates.split(", ")
    assert link.get_attribute("href") == (
        f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"
    )
    assert not page.locator("[data-map-point]").is_visible()  # no empty box where a map was


def test_after_an_inspector_action_focus_stays_by_the_form_and_the_result_is_said(
    live, office_page, pothole
):
    page = office_page
    sign_in(page, live.base_url, CLERK)
    page.goto(f"{live.base_url}/staff/reports/{pothole}")
    page.select_option("#assignee", label="Clerk")
    page.click("#assign-title ~ form button[type=submit]")
    page.wait_for_function(
        "() => document.getElementById('live').textContent.includes('Saved: assigned to Clerk')"
    )
    focused = page.evaluate(
        "() => ({id: document.activeElement.id, tag: document.activeElement.tagName,"
        " text: document.activeElement.textContent})"
    )
    assert focused["tag"] != "H1"
    assert focused["id"] == "result-assign" and "assigned to Clerk" in focused["text"]
    box = page.locator("#result-assign").bounding_box()
    assert 0 <= box["y"] <= OFFICE_SCREEN["height"]  # in view: the page did not jump away
    assert axe_violations(page) == []

    # A saved reply chosen with "Use it": focus stays by the picker too.
    if page.locator("#template").count():
        page.click("button:has-text('Use it')")
        page.locator("#result-template").wait_for()
        assert page.evaluate("() => document.activeElement.id") == "result-template"
    assert page.js_errors == []
