"""Accessibility checks axe cannot make on its own: keyboard focus that shows, touch
targets, text at 200%, no sideways scrolling, dark mode, reduced motion, no layout shift,
and what a screen reader hears (the live region) and where focus lands after HTMX swaps."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Report
from tests.browser.conftest import SMALL, axe_violations, horizontal_overflow, sign_in


@pytest.fixture(scope="module")
def a_report(live):
    with live.app_context():
        return db.session.scalars(select(Report).order_by(Report.id)).first().tracking_number


@pytest.fixture(scope="module")
def pothole(live):
    from tests.factories import make_report

    with live.app_context():
        return make_report(
            "pothole", description="Pothole for the accessibility checks"
        ).tracking_number


KEY_PAGES = [
    "/",
    "/reports/new",
    "/reports/new?category=pothole",
    "/reports",
    "REPORT",
    "/sign-in",
    "/kiosk/",
    "/kiosk/report?category=pothole",
]


def url(live, path: str, tracking: str) -> str:
    return live.base_url + path.replace("REPORT", f"/reports/{tracking}")


FOCUS_STYLE = """el => { const s = getComputedStyle(el);
  return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow,
          s.backgroundColor, s.textDecorationLine].join('|'); }"""


@pytest.mark.parametrize("path", KEY_PAGES)
def test_tabbing_reaches_every_control_and_each_shows_its_focus(live, page_with_js, a_report, path):
    page = page_with_js
    page.goto(url(live, path, a_report))
    page.wait_for_load_state("networkidle")
    # Every control a keyboard user should reach, and how it looks unfocused.
    wanted = page.evaluate(
        """(style) => [...document.querySelectorAll(
             'a[href], button, input:not([type=hidden]), select, textarea, [tabindex="0"]')]
           .filter(el => !el.disabled && el.checkVisibility({visibilityProperty: true})
                   && !el.closest('.leaflet-control-container, .leaflet-marker-pane,'
                                  + ' dialog:not([open])'))
           .map((el, i) => { el.dataset.a11y = i;
                             return (new Function('return ' + style))()(el); })""",
        FOCUS_STYLE,
    )
    seen, unchanged = set(), []
    for _ in range(len(wanted) + 15):
        page.keyboard.press("Tab")
        index = page.evaluate("() => document.activeElement.dataset.a11y")
        if index is None:
            continue
        index = int(index)
        if index in seen:
            continue
        seen.add(index)
        focused = page.evaluate(f"() => ({FOCUS_STYLE})(document.activeElement)")
        if focused == wanted[index]:
            unchanged.append(page.evaluate("() => document.activeElement.outerHTML.slice(0, 90)"))
    missed = page.evaluate(
        "(seen) => [...document.querySelectorAll('[data-a11y]')]"
        ".filter(el => !seen.includes(Number(el.dataset.a11y)) && el.type !== 'radio')"
        ".map(el => el.outerHTML.slice(0, 90))",
        sorted(seen),
    )
    assert unchanged == []
    assert missed == []  # (a radio group is one tab stop: its other radios are not missed)


PRIMARY = """() => [...document.querySelectorAll(
    'header a, header button, main button, main .button, main input:not([type=hidden]),'
    + ' main select, main textarea, main summary, .pager a')]
  .filter(el => el.getClientRects().length && !el.closest('.leaflet-container, dialog'))
  .filter(el => el.type !== 'radio' && el.type !== 'checkbox')
  .filter(el => el.getBoundingClientRect().height < 44)
  .map(el => el.outerHTML.slice(0, 90))"""


@pytest.mark.parametrize("path", KEY_PAGES)
def test_primary_controls_are_at_least_44px_tall(live, page_with_js, a_report, path):
    page = page_with_js
    page.goto(url(live, path, a_report))
    assert page.evaluate(PRIMARY) == []


CLIPPED = """() => [...document.querySelectorAll(
    'button, .button, input:not([type=hidden]), select, label')]
  .filter(el => el.getClientRects().length)
  .filter(el => { const r = el.getBoundingClientRect();
    return r.right > document.documentElement.clientWidth + 1 || r.left < -1
      || (el.tagName !== 'INPUT' && el.tagName !== 'SELECT'
          && el.scrollWidth > el.clientWidth + 1); })
  .map(el => el.outerHTML.slice(0, 90))"""


@pytest.mark.parametrize("width", [320, 640])
@pytest.mark.parametrize("path", KEY_PAGES)
def test_text_at_200_percent_needs_no_sideways_scrolling_and_clips_nothing(
    live, browser, a_report, path, width
):
    """The browser's text-size setting, as a user sets it: the root font size doubled."""
    context = browser.new_context(viewport={"width": width, "height": 740}, bypass_csp=True)
    page = context.new_page()
    page.goto(url(live, path, a_report))
    page.add_style_tag(content="html{font-size:200%!important}")
    assert horizontal_overflow(page) <= 0
    assert page.evaluate(CLIPPED) == []
    context.close()


def public_html_pages(live) -> list[str]:
    """Every page anyone can open without an account, from the app's own URL map."""
    skip = ("/healthz", "/readyz", "/metrics", "/sw.js", "/kiosk/reset", "/reports/nearby")
    paths = []
    for rule in live.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments or rule.rule.startswith(("/static",)):
            continue
        if rule.rule.startswith(("/me", "/staff", "/watch")) or rule.rule in skip:
            continue
        if re.search(r"\.(csv|geojson|json|zip|webmanifest|ico)$", rule.rule):
            continue
        paths.append(rule.rule)
    return sorted(paths)


def test_no_public_page_scrolls_sideways_at_320px(live, page_without_js, a_report):
    page = page_without_js
    wide = {}
    for path in [*public_html_pages(live), f"/reports/{a_report}", f"/kiosk/reports/{a_report}"]:
        response = page.goto(live.base_url + path)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        if horizontal_overflow(page) > 0:
            wide[path] = horizontal_overflow(page)
    assert wide == {}


@pytest.mark.parametrize("path", [*KEY_PAGES, "/map", "/neighbourhoods", "/kiosk/nearby"])
def test_dark_mode_passes_axe_with_enough_contrast(live, browser, a_report, path):
    context = browser.new_context(viewport=SMALL, color_scheme="dark", bypass_csp=True)
    page = context.new_page()
    page.goto(url(live, path, a_report))
    assert page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches")
    assert page.evaluate("() => getComputedStyle(document.body).backgroundColor") != (
        "rgb(255, 255, 255)"
    )
    assert axe_violations(page) == []
    context.close()


def test_signed_in_report_page_passes_axe_in_dark_mode(live, browser, pothole):
    context = browser.new_context(viewport=SMALL, color_scheme="dark", bypass_csp=True)
    page = context.new_page()
    sign_in(page, live.base_url, "maria@example.org")
    page.goto(f"{live.base_url}/reports/{pothole}")
    assert axe_violations(page) == []
    context.close()


def test_reduced_motion_turns_off_animation_and_smooth_scrolling(live, browser):
    context = browser.new_context(reduced_motion="reduce", bypass_csp=True)
    page = context.new_page()
    page.goto(live.base_url + "/reports/new?category=pothole")
    page.add_style_tag(content=".probe{transition:opacity 2s;animation:spin 1s infinite}")
    motion = page.evaluate("""() => { const el = document.createElement('p');
        el.className = 'probe button'; document.querySelector('main').append(el);
        const s = getComputedStyle(el);
        return [s.transitionDuration, s.animationName,
                getComputedStyle(document.documentElement).scrollBehavior]; }""")
    assert motion[0] in ("0s", "0s, 0s") and motion[1] == "none" and motion[2] == "auto"
    context.close()


@pytest.mark.parametrize("path", ["/", "/reports", "REPORT", "/reports/new?category=pothole"])
def test_pages_do_not_shift_while_loading_and_images_keep_their_space(
    live, page_with_js, a_report, path
):
    page = page_with_js
    page.add_init_script("""window.__shift = 0; new PerformanceObserver(list => {
        for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shift += e.value;
      }).observe({type: 'layout-shift', buffered: true});""")
    page.goto(url(live, path, a_report))
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => window.__shift") < 0.1
    images = page.evaluate("""() => [...document.querySelectorAll('main img')]
        .filter(img => !img.closest('.leaflet-container'))
        .filter(img => !img.getAttribute('width') || !img.getAttribute('height')
                || !img.hasAttribute('alt'))
        .map(img => img.outerHTML.slice(0, 90))""")
    assert images == []


# ---- what a screen reader hears, and where focus goes, after each kind of swap -------------


def live_text(page) -> str:
    return page.evaluate("() => document.getElementById('live').textContent")


def test_form_errors_take_focus_and_say_how_many(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/reports/new?category=pothole")
    page.click("button:has-text('Send report')")
    page.wait_for_function(
        "() => /The form has \\d+ problems? to fix/"
        ".test(document.getElementById('live').textContent)"
    )
    count = page.locator("#error-summary li").count()
    assert f"The form has {count} problem" in live_text(page)
    assert page.evaluate("() => document.activeElement.id") == "error-summary"


def test_kiosk_form_errors_take_focus_too(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/kiosk/report?category=pothole")
    page.click("button:has-text('Send report')")
    page.wait_for_function("() => document.getElementById('live').textContent.includes('problem')")
    assert page.evaluate("() => document.activeElement.id") == "error-summary"
    assert page.title().startswith("Error: ")


def test_filtering_announces_the_count_and_keeps_focus_on_the_control(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/reports")
    page.focus("#sort")
    page.select_option("#sort", "votes")
    page.wait_for_function(
        "() => / reports? match$/.test(document.getElementById('live').textContent)"
    )
    heading = page.locator("#results h2").inner_text()
    number = re.search(r"\d+", live_text(page)).group(0)
    assert number in heading
    assert page.evaluate("() => document.activeElement.id") == "sort"


def test_voting_announces_the_new_count_and_keeps_focus(live, page_with_js, pothole):
    page = page_with_js
    sign_in(page, live.base_url, "maria@example.org")
    page.goto(f"{live.base_url}/reports/{pothole}")
    page.focus("#vote-button")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('live').textContent.includes('want')")
    assert re.fullmatch(
        r"Vote added\. \d+ (person wants|people want) this fixed\.", live_text(page)
    )
    assert page.evaluate("() => document.activeElement.id") == "vote-button"
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('live').textContent.startsWith('Vote taken back')"
    )


def test_commenting_announces_it_and_focus_is_not_lost(live, page_with_js, pothole):
    page = page_with_js
    sign_in(page, live.base_url, "maria@example.org")
    page.goto(f"{live.base_url}/reports/{pothole}")
    page.fill("#body", "Seen again this morning, the cone has gone")
    page.focus("button:has-text('Add comment')")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('live').textContent === 'Your comment was added.'"
    )
    active = page.evaluate(
        "() => [document.activeElement.tagName,"
        " document.activeElement.closest('#conversation') !== null]"
    )
    assert active[0] != "BODY" and active[1]  # on the conversation, not thrown to the top
    assert axe_violations(page) == []


def test_category_search_announces_how_many_match(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/reports/new")
    page.fill("#q", "street light")
    page.wait_for_function(
        "() => /kinds? of problem match/.test(document.getElementById('live').textContent)"
    )
    shown = page.locator("#category-choices input[type=radio]").count()
    assert live_text(page).startswith(f"{shown} kind")
    assert page.evaluate("() => document.activeElement.id") == "q"
