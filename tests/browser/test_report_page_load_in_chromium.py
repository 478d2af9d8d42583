"""What a report page runs while it loads on a phone: the small map's Leaflet waits until
the map scrolls into view (it made up half the page's total blocking time), and its box is
kept from the start so nothing jumps when it is drawn."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE


@pytest.fixture(scope="module")
def pothole(live):
    from tests.factories import make_report

    with live.app_context():
        return make_report("pothole", description="Pothole on a phone").tracking_number


def test_the_small_map_waits_until_it_scrolls_into_view(live, page_with_js, pothole):
    page = page_with_js
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(f"{live.base_url}/reports/{pothole}")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    box = page.locator("[data-map-point]").bounding_box()
    assert box is not None and box["height"] > 100  # its place is kept, before any Leaflet
    assert box["y"] >= PHONE["height"]  # below the first screen on this phone
    assert not [url for url in fetched if "leaflet" in url]

    below = page.locator("[data-map-point] + *").bounding_box()["y"]
    page.locator("[data-map-point]").scroll_into_view_if_needed()
    page.locator(".leaflet-container[data-map-point]").wait_for(state="visible")
    assert [url for url in fetched if "leaflet" in url]
    assert page.locator("[data-map-point] + *").bounding_box()["y"] + page.evaluate(
        "() => scrollY"
    ) == pytest.approx(below, abs=1)  # drawing the map moved nothing
    assert page.js_errors == []


def test_without_javascript_there_is_no_empty_map_box(live, page_without_js, pothole):
    page = page_without_js
    page.goto(f"{live.base_url}/reports/{pothole}")
    assert not page.locator("[data-map-point]").is_visible()
