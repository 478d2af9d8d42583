"""Every public page in a real browser: axe-core finds no WCAG 2.2 A/AA violation with
JavaScript on (360 px) or off (320 px), nothing scrolls sideways, and the HTMX paths work."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Report
from tests.browser.conftest import axe_violations, horizontal_overflow


@pytest.fixture(scope="module")
def some_report(live):
    with live.app_context():
        report = db.session.scalars(select(Report).order_by(Report.id)).first()
        return report.tracking_number


PAGES = [
    "/",
    "/reports/new",
    "/reports/new?q=light",
    "/reports/new?category=pothole",
    "/reports/new?category=illegal_dumping",
    "/reports",
    "/reports?status=closed&sort=votes",
    "/map",
    "/neighbourhoods",
    "/neighbourhoods/downtown",
    "/no-such-page",
    "/developers",
    "/embed/recent",
    "/embed/report-button",
    "/feeds",
    "/sign-in",
    "/register",
    "/reset",
    "REPORT",
    "REPORT/submitted",
]


def url(live, path, tracking):
    return live.base_url + path.replace("REPORT", f"/reports/{tracking}")


@pytest.mark.parametrize("path", PAGES)
def test_page_passes_axe_with_javascript_on(live, page_with_js, some_report, path):
    page = page_with_js
    page.goto(url(live, path, some_report))
    page.wait_for_load_state("networkidle")
    assert axe_violations(page) == []
    assert horizontal_overflow(page) <= 0
    assert page.js_errors == []


@pytest.mark.parametrize("path", PAGES)
def test_page_passes_axe_with_javascript_off_at_320px(live, page_without_js, some_report, path):
    page = page_without_js
    page.goto(url(live, path, some_report))
    assert axe_violations(page) == []
    assert horizontal_overflow(page) <= 0


def test_every_control_shows_focus_and_is_big_enough(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/reports/new?category=pothole")
    small = page.evaluate("""() => [...document.querySelectorAll(
        'main a, main button, main input:not([type=hidden]), main select, main textarea')]
        .filter(el => el.offsetParent !== null && !el.closest('.leaflet-container'))
        .filter(el => {
          const r = el.getBoundingClientRect();
          const inline = el.tagName === 'A' && getComputedStyle(el).display === 'inline';
          const box = el.type === 'radio' || el.type === 'checkbox';
          return !inline && !box && r.height < 44;
        }).map(el => el.outerHTML.slice(0, 80))""")
    assert small == []
    page.keyboard.press("Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    assert outline != "none"


def test_category_search_filters_in_place_and_announces(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/reports/new")
    page.fill("#q", "rats")
    page.wait_for_function(
        "() => document.querySelectorAll('#category-choices input').length === 1"
    )
    assert page.locator("#category-choices").inner_text().count("Rodents") == 1
    assert page.url.endswith("/reports/new?q=rats")
    page.wait_for_function("() => document.getElementById('live').textContent.includes('1 kind')")
    assert axe_violations(page) == []


def test_filtering_the_list_swaps_results_pushes_the_url_and_announces(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/reports")
    before = page.locator("#results h2").inner_text()
    page.select_option("#sort", "votes")
    page.wait_for_url(re.compile(r"sort=votes"))
    page.click("main summary")
    page.check("input[name=status][value=closed]")
    page.wait_for_url(re.compile(r"status=closed"))
    page.wait_for_function("() => document.getElementById('live').textContent.includes('match')")
    after = page.locator("#results h2").inner_text()
    assert after != before and "match" in after
    assert axe_violations(page) == []
    page.go_back()
    page.wait_for_url(re.compile(r"sort=votes$"))


def test_report_form_errors_swap_in_and_take_focus(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/reports/new?category=pothole")
    page.click("button:has-text('Send report')")
    page.wait_for_selector("#error-summary")
    assert page.evaluate("() => document.activeElement.id") == "error-summary"
    assert page.title().startswith("Error: ")
    assert axe_violations(page) == []


def test_report_without_javascript_by_typed_address(live, page_without_js):
    page = page_without_js
    page.goto(live.base_url + "/reports/new")
    page.check("#category-graffiti")
    page.click("button:has-text('Continue')")
    page.check("input[name=answer_surface][value=public]")
    page.fill("#description", "Fresh tags on the wall by the bus shelter")
    page.fill("#address", "45 Lyon Terrace")
    page.click("button:has-text('Send report')")
    if page.locator("text=Has someone already reported it?").count():
        page.click("button:has-text('No, mine is different')")
    page.wait_for_url(re.compile(r"/reports/BPT-\d+/submitted$"))
    assert page.locator(".tracking-big").inner_text().startswith("BPT-")
    assert axe_violations(page) == []


def test_report_with_javascript_by_placing_the_pin(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/reports/new?category=streetlight")
    page.check("input[name=answer_problem][value=out]")
    page.fill("#description", "The light outside number 12 has been out all week")
    page.wait_for_selector(".leaflet-container")
    page.click("button:has-text('Put the pin at the map centre')")
    page.wait_for_function("() => document.querySelector('[name=latitude]').value !== ''")
    page.click("button:has-text('Send report')")
    if page.locator("text=Has someone already reported it?").count():
        page.click("button:has-text('No, mine is different')")
    page.wait_for_url(re.compile(r"/reports/BPT-\d+/submitted$"))
    assert page.js_errors == []
