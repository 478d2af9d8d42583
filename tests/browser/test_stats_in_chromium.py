"""The figures pages in a real browser: no axe violations with JavaScript on or off, and
nothing wider than a 320 px phone (charts scale, wide tables scroll in their own box)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SMALL, axe_violations, horizontal_overflow, sign_in

PAGES = ["/stats", "/stats?date_from=2025-01-01&department=1", "/staff/dashboard"]


def _open(page, live, path):
    if path.startswith("/staff"):
        sign_in(page, live.base_url, "clerk@bridgeport.example")
    response = page.goto(live.base_url + path)
    assert response.status == 200


@pytest.mark.parametrize("path", PAGES)
def test_figures_pass_axe_with_javascript(live, page_with_js, path):
    page = page_with_js
    page.set_viewport_size(SMALL)
    _open(page, live, path)
    assert page.locator("svg[role=img]").count() == 5
    assert axe_violations(page) == []
    assert horizontal_overflow(page) <= 0
    assert page.js_errors == []


@pytest.mark.parametrize("path", PAGES)
def test_figures_pass_axe_without_javascript_at_320px(live, page_without_js, path):
    page = page_without_js
    _open(page, live, path)
    assert page.locator("table caption").count() >= 4
    assert axe_violations(page) == []
    assert horizontal_overflow(page) <= 0


def test_the_period_form_works_without_javascript(live, page_without_js):
    page = page_without_js
    page.goto(live.base_url + "/stats")
    page.fill("#date_from", "2025-06-02")
    page.select_option("#category", "pothole")
    page.click("main button[type=submit]")
    page.wait_for_url("**/stats?*")
    assert "category=pothole" in page.url
    assert "June 2, 2025" in page.locator("#summary").inner_text()
