"""#22 "No dead ends", items 4, 6 and 7 in Chromium: big photos are made smaller and their
sending shows and is announced, with Send disabled; nothing is invalid on arrival; groups
have distinct names; the map's attribution is no tab stop; one finger scrolls the page
over a map; the header fits a phone; buttons never break inside a word."""

from __future__ import annotations

import io
import os
import re

import pytest
from PIL import Image

from tests.browser.conftest import PHONE, axe_violations, sign_in

BIG = 1_500_000  # bytes: above this, site.js shrinks a photo before sending it


def big_jpeg(gps=None) -> bytes:
    """A noisy 2600 x 1950 photo of several MB, as a phone takes them."""
    image = Image.frombytes("RGB", (2600, 1950), os.urandom(2600 * 1950 * 3))
    exif = Image.Exif()
    if gps:
        lat, lon = gps

        def dms(value):
            value = abs(value)
            degrees = int(value)
            minutes = int((value - degrees) * 60)
            seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
            return (degrees, minutes, seconds)

        exif[0x8825] = {
            1: "N" if lat >= 0 else "S",
            2: dms(lat),
            3: "E" if lon >= 0 else "W",
            4: dms(lon),
        }
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    data = out.getvalue()
    assert len(data) > 2 * BIG
    return data


def watch_live_region(page) -> None:
    page.evaluate(
        """() => { window.said = [];
          const live = document.getElementById('live');
          new MutationObserver(() => { if (live.textContent) window.said.push(live.textContent); })
            .observe(live, {childList: true, characterData: true, subtree: true}); }"""
    )


def test_a_big_photo_is_shrunk_and_its_sending_is_shown_with_send_disabled(live, page_with_js):
    page = page_with_js
    original = big_jpeg()
    posts = []

    def during_upload(route):
        request = route.request
        body = request.post_data_buffer or b""
        if b'name="photos"' in body:
            # While the photo is on its way: what the resident sees and hears.
            posts.append(
                {
                    "size": len(body),
                    "htmx": request.headers.get("hx-request"),
                    "jpeg": b"image/jpeg" in body and b'filename="big.jpg"' in body,
                    "page": page.evaluate(
                        """() => ({
                          send: [...document.querySelectorAll('#report-form button[type=submit]')]
                            .map(b => b.disabled),
                          bar: !!document.querySelector('#report-form progress.upload-progress'),
                          busy: document.getElementById('report-form').getAttribute('aria-busy'),
                          said: window.said
                        })"""
                    ),
                }
            )
        route.continue_()

    page.route("**/reports/new", lambda route: during_upload(route))
    page.goto(live.base_url + "/reports/new?category=streetlight")
    page.check("input[name=answer_problem][value=out]")
    page.fill("#description", "The light by the library has been out since Monday")
    page.wait_for_selector(".leaflet-container")
    page.click("button:has-text('Put the pin at the map centre')")
    page.wait_for_function("() => document.querySelector('[name=latitude]').value !== ''")
    page.set_input_files(
        "#photos", files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": original}]
    )
    watch_live_region(page)
    page.click("#report-form button[type=submit]")
    page.wait_for_function("() => !document.querySelector('#report-form[aria-busy=true]')")
    if page.locator("text=Has someone already reported it?").count():
        page.click("button:has-text('No, mine is different')")
    page.wait_for_url(re.compile(r"/reports/BPT-\d+/submitted$"))

    assert len(posts) == 1, "one tap, one upload"
    sent = posts[0]
    assert sent["htmx"] == "true"
    assert sent["jpeg"] and sent["size"] < len(original) / 2
    said = sent["page"].pop("said")
    assert sent["page"] == {"send": [True], "bar": True, "busy": "true"}
    assert any("Making your photos smaller" in text for text in said), said
    assert any(re.match(r"Sending… \d+\s?%", text) for text in said), said
    assert page.js_errors == []


def test_a_big_photo_with_its_gps_is_sent_whole_when_the_form_has_no_place(live, page_with_js):
    """The server offers the photo's own location when none is given, and a shrunk copy
    would have lost it: such a photo goes as it was taken."""
    page = page_with_js
    original = big_jpeg(gps=(41.18615, -73.19542))
    sizes = []

    def measure(route):
        body = route.request.post_data_buffer or b""
        if b'name="photos"' in body:
            sizes.append(len(body))
        route.continue_()

    page.route("**/reports/new", lambda route: measure(route))
    page.goto(live.base_url + "/reports/new?category=graffiti")
    page.check("input[name=answer_surface][value=public]")
    page.fill("#description", "Tags all over the bus shelter")
    page.set_input_files(
        "#photos", files=[{"name": "tags.jpg", "mimeType": "image/jpeg", "buffer": original}]
    )
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("text=We found the location stored in your photo")
    assert sizes and sizes[0] > len(original)
    choice = page.locator("#location_choice legend").inner_text()
    assert "(optional)" not in choice
    assert axe_violations(page) == []


def ax_invalid_nodes(page) -> list[str]:
    """Controls Chromium tells screen readers are invalid ("invalid entry")."""
    cdp = page.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    found = []
    for node in nodes:
        for prop in node.get("properties", []):
            if prop["name"] == "invalid" and prop["value"].get("value") not in ("false", None):
                found.append((node.get("name") or {}).get("value", "?"))
    return found


def test_required_questions_are_not_invalid_on_arrival_and_groups_are_told_apart(
    live, page_with_js
):
    page = page_with_js
    page.goto(live.base_url + "/reports/new?category=graffiti")
    page.wait_for_selector(".leaflet-container")
    assert ax_invalid_nodes(page) == []
    assert page.locator("#report-form :invalid, #report-form [aria-invalid]").count() == 0
    legends = page.eval_on_selector_all(
        "#report-form fieldset > legend", "els => els.map(e => e.textContent.trim())"
    )
    assert "Location of the problem" in legends
    assert len(legends) == len(set(legends)), legends
    assert axe_violations(page) == []
    # After a refused send, the server's errors do mark the field.
    page.fill("#description", "")
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert page.get_attribute("#description", "aria-invalid") == "true"


def test_the_map_attribution_is_visible_but_no_tab_stop(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/reports/new?category=pothole")
    page.wait_for_selector(".leaflet-control-attribution a")
    links = page.eval_on_selector_all(
        ".leaflet-control-attribution a", "els => els.map(a => [a.textContent, a.tabIndex])"
    )
    assert links and all(tab == -1 for _text, tab in links), links
    assert page.locator(".leaflet-control-attribution").is_visible()
    page.focus("#map")
    for _ in range(6):
        page.keyboard.press("Tab")
        assert not page.evaluate(
            "() => !!document.activeElement.closest('.leaflet-control-attribution')"
        )


def test_one_finger_over_the_map_scrolls_the_page_and_shows_a_hint(live, browser):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(live.base_url + "/reports/new?category=pothole")
        page.wait_for_selector(".leaflet-container")
        page.wait_for_selector(".map-hint", state="attached")
        assert page.locator(".map-hint").inner_text() == "Use two fingers to move the map"
        touch_action = page.eval_on_selector(
            ".leaflet-container", "el => getComputedStyle(el).touchAction"
        )
        assert touch_action == "pan-x pan-y"  # the browser scrolls on one finger, pinch zooms
        # Leaflet no longer drags the map on one finger (headless Chromium cannot scroll by a
        # synthetic swipe, so the browser's own touch-action stands in for it) ...
        assert "leaflet-touch-drag" not in page.get_attribute("#map", "class")
        # ... and a one-finger swipe over it shows the hint.
        shown = page.eval_on_selector(
            "#map",
            """el => { const r = el.getBoundingClientRect();
              const touch = new Touch({identifier: 1, target: el,
                clientX: r.left + 50, clientY: r.top + 50});
              el.dispatchEvent(new TouchEvent('touchmove',
                {touches: [touch], changedTouches: [touch], bubbles: true}));
              return el.querySelector('.map-hint').classList.contains('map-hint--shown'); }""",
        )
        assert shown
    finally:
        context.close()


HEADER = "() => document.querySelector('.site-header').getBoundingClientRect().height"


@pytest.mark.parametrize("who", [None, "maria@example.org", "clerk@bridgeport.example"])
def test_the_header_fits_a_phone_signed_out_and_in(live, page_with_js, who):
    page = page_with_js  # 360 x 740
    if who:
        sign_in(page, live.base_url, who)
    page.goto(live.base_url + "/")
    assert page.evaluate(HEADER) <= 120
    assert page.locator(".lang-switch button").first.is_visible()  # languages stay in sight
    # The links are one tap away, and they work without JavaScript: a <details>.
    assert not page.locator("nav[aria-label=Main] a").first.is_visible()
    page.click(".site-menu > summary")
    page.click("nav[aria-label=Main] a:has-text('Browse reports')")
    page.wait_for_url(re.compile(r"/reports$"))
    assert axe_violations(page) == []


def test_wide_screens_show_the_links_without_a_menu_button(live, browser):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        page = context.new_page()
        page.goto(live.base_url + "/")
        assert page.locator("nav[aria-label=Main] a:has-text('Browse reports')").is_visible()
        assert not page.locator(".site-menu > summary").is_visible()
    finally:
        context.close()


def test_the_header_fits_a_phone_without_javascript(live, page_without_js):
    page = page_without_js
    page.set_viewport_size(PHONE)
    page.goto(live.base_url + "/")
    assert page.evaluate(HEADER) <= 120
    page.click(".site-menu > summary")
    assert page.locator("nav[aria-label=Main] a:has-text('Browse reports')").is_visible()


SPLIT_WORDS = """(root) => {
  // Every word of every button and button-like link, with the line boxes it is drawn on:
  // a word on two lines was broken inside it.
  const split = [];
  root.querySelectorAll('button, .button').forEach(button => {
    if (!button.getClientRects().length) return;
    const walker = document.createTreeWalker(button, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const re = /\\S+/g;
      let m;
      while ((m = re.exec(node.data))) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (tops.size > 1) split.push(m[0]);
      }
    }
  });
  return split;
}"""


@pytest.mark.parametrize("width", [320, 360])
def test_the_same_problem_button_wraps_between_words(live, browser, width):
    with live.app_context():
        from tests.factories import make_report

        make_report("dead_animal", description="A dead raccoon by the curb at City Hall")
    context = browser.new_context(viewport={"width": width, "height": 740})
    try:
        page = context.new_page()
        page.goto(live.base_url + "/reports/new?category=dead_animal")
        page.wait_for_selector(".leaflet-container")
        page.click("button:has-text('Put the pin at the map centre')")
        page.wait_for_selector("#duplicates .duplicates")
        button = page.locator("#duplicates a.button").first
        assert "same problem" in button.inner_text()
        assert page.eval_on_selector("#duplicates", SPLIT_WORDS) == []
        assert page.eval_on_selector("#report-form", SPLIT_WORDS) == []
    finally:
        context.close()
