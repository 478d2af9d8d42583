"""The installable app in Chromium: the manifest and service worker, a report filed with
no connection and sent once when it returns, the share target, kiosks without a worker,
and the offline and push pages under axe."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from sqlalchemy import func, select

from bpt311.extensions import db
from tests.browser.conftest import PHONE, axe_violations, sign_in

WORKER_READY = (
    "async () => { const r = await navigator.serviceWorker.ready; return r.active.scriptURL; }"
)


def wait_until(page, script: str, seconds: float = 20) -> None:
    """Poll an async predicate (wait_for_function does not await a returned promise)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(script):
        assert time.monotonic() < deadline, f"still false after {seconds} s: {script}"
        page.wait_for_timeout(100)


def test_manifest_is_picked_up_and_the_worker_controls_the_site(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/")
    assert page.evaluate(WORKER_READY) == live.base_url + "/sw.js"
    manifest = page.evaluate(
        """async () => {
            const link = document.querySelector('link[rel=manifest]');
            const response = await fetch(link.href);
            return {type: response.headers.get('content-type'), body: await response.json()};
        }"""
    )
    assert manifest["type"].startswith("application/manifest+json")
    body = manifest["body"]
    # What Chromium's installability check asks for.
    assert body["name"] and body["short_name"] and body["start_url"]
    assert body["display"] in ("standalone", "fullscreen", "minimal-ui")
    sizes = {icon["sizes"] for icon in body["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in body["icons"]:
        assert page.evaluate(
            "async (src) => (await fetch(src)).ok && (await fetch(src)).headers"
            ".get('content-type') === 'image/png'",
            icon["src"],
        )
    page.reload()
    assert page.evaluate("() => !!navigator.serviceWorker.controller")
    assert page.js_errors == []


def _pothole_form(page, base_url: str, description: str) -> None:
    page.goto(f"{base_url}/reports/new?category=pothole&lat=41.1794&lon=-73.1896")
    page.evaluate(WORKER_READY)
    page.check("input[name=answer_size][value=medium]")
    page.fill("#description", description)


def _reports_described(live, description: str) -> int:
    from bpt311.models import Report

    with live.app_context():
        count = db.session.scalar(
            select(func.count(Report.id)).where(Report.description == description)
        )
        db.session.remove()
        return count


def test_report_filed_offline_is_saved_and_sent_once_when_back_online(live, page_with_js):
    page = page_with_js
    description = "Offline pothole: deep hole beside the kerb, filed with no signal."
    _pothole_form(page, live.base_url, description)
    page.context.set_offline(True)
    page.click("#report-form button[type=submit]")
    saved = page.locator("#flash .notice", has_text="No connection.")
    saved.wait_for()
    assert "Your report is saved on this phone and will be sent when you're back online." in (
        saved.inner_text()
    )
    assert _reports_described(live, description) == 0

    page.context.set_offline(False)  # the page's "online" event and Background Sync both send
    sent = page.locator("#flash .notice", has_text="has been sent")
    sent.wait_for(timeout=20000)
    tracking = sent.locator("a").inner_text().removeprefix("See report ")
    assert tracking.startswith("BPT-")
    assert _reports_described(live, description) == 1

    # Reloading, or another sync, sends nothing more.
    page.reload()
    page.wait_for_timeout(1500)
    assert _reports_described(live, description) == 1

    page.goto(live.base_url + "/offline")
    page.locator("#phone-reports li", has_text=tracking).wait_for()
    assert "Pothole" in page.locator("#phone-reports").inner_text()
    assert axe_violations(page) == []
    assert page.js_errors == []


def test_two_reports_written_offline_from_the_cached_form_make_two_reports(live, page_with_js):
    page = page_with_js
    first, second = (
        "Cached form, first: a pothole by the fire hydrant on the corner.",
        "Cached form, second: another pothole outside the bakery door.",
    )
    url = f"{live.base_url}/reports/new?category=pothole&lat=41.1794&lon=-73.1896"
    page.goto(url)
    page.evaluate(WORKER_READY)
    page.reload()  # controlled by the worker now, which keeps this public form
    page.context.set_offline(True)
    for description in (first, second):
        page.goto(url)  # from the worker's cache
        page.check("input[name=answer_size][value=small]")
        page.fill("#description", description)
        page.click("#report-form button[type=submit]")
        page.locator("#flash .notice", has_text="No connection.").wait_for()
    assert page.evaluate("async () => (await bpt311Drafts.drafts()).length") == 2
    page.context.set_offline(False)
    wait_until(page, "async () => (await bpt311Drafts.drafts()).length === 0")
    assert _reports_described(live, first) == 1
    assert _reports_described(live, second) == 1


def test_a_photo_too_large_to_keep_offline_is_named_and_the_draft_kept_without_it(
    live, page_with_js
):
    page = page_with_js
    _pothole_form(page, live.base_url, "Pothole with one photo too large to keep offline.")
    big = {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": b"\xff\xd8" + b"0" * 9_000_000}
    small = {"name": "small.jpg", "mimeType": "image/jpeg", "buffer": _jpeg_with_gps()}
    page.set_input_files("input[name=photos]", [big, small])
    page.context.set_offline(True)
    page.click("#report-form button[type=submit]")
    notice = page.locator("#flash .notice", has_text="No connection.")
    notice.wait_for()
    assert "huge.jpg is too large to keep on this phone (over 8 MB)" in notice.inner_text()
    photos = page.evaluate(
        "async () => (await bpt311Drafts.drafts())[0].photos.map(p => [p.name, p.blob.size])"
    )
    assert [name for name, _ in photos] == ["small.jpg"] and photos[0][1] > 0
    page.evaluate(
        "async () => { for (const d of await bpt311Drafts.drafts())"
        " await bpt311Drafts.forget(d.id); }"
    )
    page.context.set_offline(False)


def test_the_offline_page_is_served_when_a_page_cannot_be_reached(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/")
    page.evaluate(WORKER_READY)
    page.reload()  # now controlled by the worker
    page.context.set_offline(True)
    page.goto(live.base_url + "/me/settings")  # private: never cached, so the offline page
    assert page.locator("h1").inner_text() == "Reports on this phone"
    page.context.set_offline(False)


def test_a_damaged_draft_is_dropped_with_a_message_and_nothing_is_sent(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/offline")
    page.evaluate(WORKER_READY)
    page.evaluate(
        """() => new Promise((resolve) => {
            const open = indexedDB.open('bpt311', 1);
            open.onsuccess = () => {
                const tx = open.result.transaction('drafts', 'readwrite');
                tx.objectStore('drafts').put({version: 1, action: '/reports/new',
                    fields: [['description', 'half a draft']], photos: 'not a list'});
                tx.oncomplete = () => resolve();
            };
        })"""
    )
    page.reload()
    page.locator("#flash .notice", has_text="was damaged and could not be sent").wait_for()
    assert _reports_described(live, "half a draft") == 0
    assert page.evaluate("async () => (await bpt311Drafts.drafts()).length") == 0


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (320, 240), (90, 90, 90))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (41.0, 10.0, 45.12), 3: "W", 4: (73.0, 11.0, 21.84)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_sharing_a_photo_opens_the_form_with_it_attached(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/")
    # What the phone's share sheet sends: a multipart POST with no CSRF token.
    response = page.request.post(
        live.base_url + "/share",
        multipart={
            "photos": {"name": "IMG_0007.jpg", "mimeType": "image/jpeg", "buffer": _jpeg_with_gps()}
        },
        # page.request is not the browser's own fetch: say what the share sheet's request says.
        headers={"Sec-Fetch-Site": "none"},
        max_redirects=0,
    )
    assert response.status == 303
    page.goto(live.base_url + "/reports/new")
    assert "IMG_0007.jpg is attached" in page.locator("#flash").inner_text()
    page.check("input[name=category][value=pothole]")
    page.click("#category-choices button[type=submit]")
    page.locator("text=IMG_0007.jpg is attached").wait_for()
    assert page.locator("input[name=location_choice]").is_checked()
    assert "Where your photo IMG_0007.jpg was taken" in page.inner_text("#location")


def test_a_kiosk_registers_no_service_worker_and_drops_an_old_one(live, browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        page.goto(live.base_url + "/")
        page.evaluate(WORKER_READY)  # this browser had the app before becoming a kiosk
        response = page.goto(live.base_url + "/kiosk/")
        if response.status != 200 or not page.evaluate("() => !!document.body.dataset.kiosk"):
            pytest.skip("/kiosk is not built yet (no page with data-kiosk to test)")
        wait_until(
            page, "async () => (await navigator.serviceWorker.getRegistrations()).length === 0"
        )
        page.goto(live.base_url + "/kiosk/report")
        page.wait_for_timeout(1000)
        count = page.evaluate(
            "async () => (await navigator.serviceWorker.getRegistrations()).length"
        )
        assert count == 0
    finally:
        context.close()


@pytest.fixture
def vapid(live):
    from bpt311.push import new_vapid_keys

    public, private = new_vapid_keys()
    live.config.update(VAPID_PUBLIC_KEY=public, VAPID_PRIVATE_KEY=private)
    yield public
    live.config.update(VAPID_PUBLIC_KEY="", VAPID_PRIVATE_KEY="")


def test_push_settings_page_is_accessible(live, page_with_js, vapid):
    page = page_with_js
    sign_in(page, live.base_url, "maria@example.org")
    page.goto(live.base_url + "/me/settings")
    page.click("text=Notifications on your phone or computer")
    page.wait_for_function("() => document.getElementById('push-status').textContent !== ''")
    assert page.locator("#push-nojs").is_hidden()
    assert axe_violations(page) == []
    assert page.js_errors == []
