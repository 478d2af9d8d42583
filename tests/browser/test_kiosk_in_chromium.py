"""The city-hall kiosk in a real browser: the idle countdown, the wipe, the receipt and its
80 mm print-out, and axe-core on every kiosk screen with JavaScript on and off."""

from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from bpt311 import create_app
from bpt311.extensions import db
from bpt311.models import Report
from tests.browser.conftest import PHONE, axe_violations, horizontal_overflow
from tests.conftest import app_settings, free_port

IDLE, COUNTDOWN = 2, 3
MM = 96 / 25.4  # CSS pixels per millimetre


@pytest.fixture(scope="module")
def quick_kiosk(live, database_url, geocoder, tmp_path_factory):
    """A second server on the same data whose kiosk gives up after 2 s idle and a 3 s
    countdown, so the wipe can be watched without waiting two minutes."""
    app = create_app(
        app_settings(
            database_url,
            tmp_path_factory.mktemp("kiosk"),
            GEOCODER_URL=geocoder.url,
            RATELIMIT_ENABLED=False,
            KIOSK_IDLE_SECONDS=IDLE,
            KIOSK_COUNTDOWN_SECONDS=COUNTDOWN,
        )
    )
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.base_url = f"http://127.0.0.1:{server.server_port}"
    yield app
    server.shutdown()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def a_report(live):
    with live.app_context():
        return db.session.scalars(select(Report).order_by(Report.id)).first().tracking_number


def session_of(app, page) -> dict:
    """The Flask session the browser holds, decoded with the app's own key."""
    cookies = [c for c in page.context.cookies() if c["name"] == "session"]
    if not cookies:
        return {}
    return app.session_interface.get_signing_serializer(app).loads(cookies[0]["value"])


def storage_sizes(page) -> list[int]:
    return page.evaluate("() => [sessionStorage.length, localStorage.length]")


KIOSK_SCREENS = [
    "/kiosk/",
    "/kiosk/report",
    "/kiosk/report?q=rats",
    "/kiosk/report?category=pothole",
    "/kiosk/lookup",
    "/kiosk/lookup?number=BPT-99999999",
    "/kiosk/nearby",
    "REPORT",
]


def kiosk_url(app, path: str, tracking: str) -> str:
    return app.base_url + path.replace("REPORT", f"/kiosk/reports/{tracking}")


@pytest.mark.parametrize("path", KIOSK_SCREENS)
def test_kiosk_screen_passes_axe_with_and_without_javascript(
    live, page_with_js, page_without_js, a_report, path
):
    for page in (page_with_js, page_without_js):
        page.goto(kiosk_url(live, path, a_report))
        assert page.locator("body[data-kiosk='1']").count() == 1
        assert axe_violations(page) == []
        assert horizontal_overflow(page) <= 0
    assert page_with_js.js_errors == []


@pytest.mark.parametrize("path", ["/kiosk/", "/kiosk/report?category=pothole", "REPORT"])
def test_kiosk_screen_passes_axe_in_dark_mode_on_a_big_portrait_screen(
    live, browser, a_report, path
):
    context = browser.new_context(
        viewport={"width": 1080, "height": 1920}, color_scheme="dark", bypass_csp=True
    )
    page = context.new_page()
    page.goto(kiosk_url(live, path, a_report))
    assert axe_violations(page) == []
    context.close()


def test_kiosk_touch_targets_are_large(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/kiosk/report?category=pothole")
    heights = page.evaluate("""() => [...document.querySelectorAll(
        'main button, main input:not([type=hidden]):not([type=radio]):not([type=checkbox]),'
        + ' main textarea, .kiosk-restart button')]
        .filter(el => el.offsetParent !== null)
        .map(el => el.getBoundingClientRect().height)""")
    assert heights and min(heights) >= 48


def test_the_idle_countdown_appears_and_im_still_here_keeps_the_form(quick_kiosk, page_with_js):
    page = page_with_js
    page.goto(quick_kiosk.base_url + "/kiosk/report?category=pothole")
    page.fill("#description", "Pothole by the library steps")
    dialog = page.locator("#kiosk-idle")
    dialog.wait_for(state="visible", timeout=(IDLE + 2) * 1000)
    assert "start over in" in dialog.inner_text()
    assert page.evaluate("() => document.activeElement.hasAttribute('data-still-here')")
    assert axe_violations(page) == []
    page.click("text=I’m still here")
    assert not dialog.is_visible()
    assert page.input_value("#description") == "Pothole by the library steps"
    assert page.url.endswith("/kiosk/report?category=pothole")
    # It comes back after another idle period: the timer was restarted, not stopped.
    dialog.wait_for(state="visible", timeout=(IDLE + 2) * 1000)
    page.keyboard.press("Escape")  # Escape means "I'm still here" too
    assert not dialog.is_visible()
    assert page.input_value("#description") == "Pothole by the library steps"
    assert page.js_errors == []


def test_walking_away_wipes_the_session_the_form_and_the_history(quick_kiosk, page_with_js):
    page = page_with_js
    page.goto(quick_kiosk.base_url + "/kiosk/")
    page.click("text=Report a problem")
    page.check("#category-pothole")
    page.click("button:has-text('Continue')")
    page.wait_for_selector("#description")
    page.fill("#description", "Pothole by the library steps")
    page.fill("#contact_email", "ana.souza@example.org")
    page.evaluate("() => { sessionStorage.setItem('draft', 'x'); localStorage.setItem('d', 'y'); }")
    assert "csrf_token" in session_of(quick_kiosk, page)
    old_token = session_of(quick_kiosk, page)["csrf_token"]

    page.wait_for_url(re.compile(r"/kiosk/$"), timeout=(IDLE + COUNTDOWN + 5) * 1000)
    assert page.locator("text=Touch to start").is_visible()
    assert storage_sizes(page) == [0, 0]
    assert session_of(quick_kiosk, page).get("csrf_token") != old_token  # a new session
    assert page.js_errors == []
    # Back never reaches what was typed: the filled page left the history.
    page.go_back()
    page.wait_for_load_state()
    assert "library steps" not in page.content()
    assert "ana.souza" not in page.content()
    for field in ("#description", "#contact_email"):
        if page.locator(field).count():
            assert page.input_value(field) == ""


def report_a_pothole(page, base_url: str) -> str:
    """Through the kiosk as a visitor would; returns the tracking number on the receipt."""
    page.goto(base_url + "/kiosk/")
    page.click("text=Report a problem")
    page.check("#category-pothole")
    page.click("button:has-text('Continue')")
    page.check("input[name=answer_size][value=large]")
    page.fill("#description", "Deep pothole in front of the library steps")
    page.fill("#address", "45 Lyon Terrace")
    page.fill("#contact_name", "Ana Souza")
    page.click("button:has-text('Send report')")
    duplicates = page.locator("text=Has someone already reported it?")
    duplicates.or_(page.locator(".tracking-big")).first.wait_for()
    if duplicates.count():
        page.click("button:has-text('No, mine is different')")
    page.wait_for_url(re.compile(r"/kiosk/reports/BPT-\d+/receipt$"))
    return page.locator(".tracking-big").inner_text()


def test_finishing_a_report_shows_the_receipt_then_clears_everything(live, page_with_js):
    page = page_with_js
    tracking = report_a_pothole(page, live.base_url)
    assert re.fullmatch(r"BPT-\d{6,}", tracking)
    qr = page.locator(".qr svg")
    assert qr.is_visible() and f"/reports/{tracking}" in qr.locator("title").text_content()
    assert axe_violations(page) == []
    with live.app_context():
        report = db.session.scalars(select(Report).where(Report.description.contains("library")))
        assert [r.source for r in report] == ["kiosk"]
    assert "Ana Souza" not in str(session_of(live, page))

    page.fill("#email", "ana.souza@example.org")
    page.click("button:has-text('Email my receipt')")
    page.wait_for_function(
        "() => document.getElementById('live').textContent.includes('Receipt emailed')"
    )
    assert axe_violations(page) == []

    page.click("button:has-text('Finish and clear the screen')")
    page.wait_for_url(re.compile(r"/kiosk/$"))
    assert set(session_of(live, page)) <= {"csrf_token"}
    page.go_back()
    page.wait_for_load_state()
    assert tracking not in page.content() or "/receipt" not in page.url
    assert "library steps" not in page.content()
    assert page.js_errors == []


def test_the_receipt_prints_on_an_80mm_roll(live, browser):
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    tracking = report_a_pothole(page, live.base_url)
    page.emulate_media(media="print")
    assert page.locator(".tracking-big").is_visible()
    assert page.locator(".qr svg").is_visible()
    for hidden in ("header", "footer", "#send-receipt", ".kiosk-actions"):
        assert not page.locator(hidden).first.is_visible(), hidden
    widest = page.evaluate("""() => Math.max(...[...document.querySelectorAll('body *')]
        .filter(el => el.getClientRects().length)
        .map(el => el.getBoundingClientRect().right))""")
    assert widest <= 80 * MM
    pdf = page.pdf(width="80mm", height="200mm", prefer_css_page_size=True)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1  # one receipt, one page
    assert tracking
    context.close()


def test_the_kiosk_works_without_javascript(live, page_without_js):
    page = page_without_js
    tracking = report_a_pothole(page, live.base_url)
    assert page.locator("noscript").count() == 1  # the receipt's own no-JS reset
    assert axe_violations(page) == []
    page.click("button:has-text('Finish and clear the screen')")
    page.wait_for_url(re.compile(r"/kiosk/$"))
    assert set(session_of(live, page)) <= {"csrf_token"}
    page.click("text=Look up a tracking number")
    page.fill("#number", tracking.removeprefix("BPT-"))
    page.click("button:has-text('Look it up')")
    page.wait_for_url(re.compile(rf"/kiosk/reports/{tracking}$"))
    assert "Deep pothole" in page.content()


DESK_SCREEN = {"width": 1280, "height": 1024}  # the city-hall terminal's screen


def test_the_receipts_print_and_finish_buttons_are_on_the_first_screen(live, browser):
    context = browser.new_context(viewport=DESK_SCREEN, bypass_csp=True)
    page = context.new_page()
    report_a_pothole(page, live.base_url)
    assert page.evaluate("() => window.scrollY") == 0
    for name in ("Print a receipt", "Finish and clear the screen"):
        button = page.get_by_role("button", name=name)
        assert button.is_visible(), name
        box = button.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= DESK_SCREEN["height"], name
    assert page.locator(".qr svg").bounding_box()["y"] < DESK_SCREEN["height"]
    assert axe_violations(page) == []
    assert horizontal_overflow(page) <= 0
    context.close()


def test_after_the_wipe_back_shows_no_previous_choice(quick_kiosk, page_with_js):
    page = page_with_js
    page.goto(quick_kiosk.base_url + "/kiosk/")
    page.click("text=Report a problem")
    page.check("#category-pothole")
    page.click("button:has-text('Continue')")
    page.wait_for_selector("#description")
    page.fill("#description", "Pothole by the library steps")
    page.wait_for_url(re.compile(r"/kiosk/$"), timeout=(IDLE + COUNTDOWN + 5) * 1000)
    page.go_back()
    page.wait_for_url(re.compile(r"/kiosk/report$"))
    page.wait_for_load_state("load")
    assert page.locator("#category-pothole").count() == 1
    assert page.locator("input[name=category]:checked").count() == 0
    assert page.js_errors == []


def test_a_page_back_from_the_back_forward_cache_forgets_what_was_chosen(live, page_with_js):
    # Chromium keeps no-store pages out of its back-forward cache today, but may not
    # always: a page shown again from it must come back empty too.
    page = page_with_js
    page.goto(live.base_url + "/kiosk/report")
    page.check("#category-pothole")
    page.evaluate("""() => window.dispatchEvent(
        new PageTransitionEvent('pageshow', {persisted: true}))""")
    page.wait_for_load_state("load")
    assert page.locator("input[name=category]:checked").count() == 0
    assert page.js_errors == []
