"""The map at any zoom (#25 item 4): counts drawn as named buttons, and zooming in, with
the keyboard or the mouse, until the reports themselves are on the map."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import axe_violations

COUNT_NAME = re.compile(r"([\d,]+) reports? here")


@pytest.fixture
def wide_page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()


def map_answer(page, act):
    """Do ``act`` and return the map's next GeoJSON answer (what it asked, what it got)."""
    with page.expect_response(lambda r: "/reports.geojson" in r.url, timeout=15000) as info:
        act()
    response = info.value
    assert response.status == 200
    return response.url, response.json()


def biggest_count(page):
    counts = page.locator(".map-cluster")
    counts.first.wait_for()
    names = [counts.nth(n).get_attribute("aria-label") for n in range(counts.count())]
    sizes = [int(COUNT_NAME.fullmatch(name).group(1).replace(",", "")) for name in names]
    return counts.nth(sizes.index(max(sizes))), max(sizes)


def test_the_map_shows_counts_and_zooming_in_shows_the_reports(live, wide_page):
    page = wide_page
    url, first = map_answer(page, lambda: page.goto(live.base_url + "/map"))
    assert "zoom=13" in url and first["clustered"] is True
    cluster, size = biggest_count(page)
    # What a screen reader says and what is drawn agree, and the count is a button.
    assert cluster.inner_text().replace(",", "") == str(size)
    name = f"{size} report here" if size == 1 else f"{size} reports here"
    assert page.get_by_role("button", name=name).count() >= 1
    total = sum(f["properties"]["count"] for f in first["features"])
    assert page.locator("#live").inner_text() == f"{total} reports on the map"

    # The keyboard zooms in from a count (Enter), two levels at a time.
    cluster.focus()
    url, closer = map_answer(page, lambda: page.keyboard.press("Enter"))
    assert "zoom=15" in url and closer["clustered"] is True and closer["features"]
    # The count pressed is gone with the old view: focus is on a count of the new one.
    page.wait_for_function("() => document.activeElement.matches('.map-cluster')")

    # A click on a count zooms in again: at street level the reports themselves are drawn.
    cluster, _ = biggest_count(page)
    url, street = map_answer(page, lambda: cluster.click())
    assert "zoom=17" in url and street["clustered"] is False and street["features"]
    page.locator(".pin, .marker-cluster").first.wait_for()
    assert page.locator(".map-cluster").count() == 0
    assert axe_violations(page) == []
    assert page.js_errors == []
