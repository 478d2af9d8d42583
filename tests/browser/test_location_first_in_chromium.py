"""#22 item 8 in Chromium: a tap on /map shows the address of the place and the reports
already near it (said in the live region), and "Report a problem here" reaches the report
form with the pin and the address filled in; zero axe violations on the way."""

from __future__ import annotations

import re

from tests.browser.conftest import axe_violations
from tests.browser.test_no_dead_ends_in_chromium import watch_live_region

# A spot on the map near its centre with no marker on it (markers open their own popups).
FREE_SPOT = """() => {
  const box = document.getElementById('reports-map').getBoundingClientRect();
  const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
  for (let r = 0; r < 120; r += 12) for (let a = 0; a < 6.3; a += 0.5) {
    const x = cx + r * Math.cos(a), y = cy + r * Math.sin(a);
    const hit = document.elementFromPoint(x, y);
    if (hit && !hit.closest('.leaflet-marker-icon, .leaflet-control, .leaflet-popup'))
      return {x: x - box.left, y: y - box.top};
  }
  return null;
}"""


def test_a_tap_on_the_map_says_the_address_and_leads_to_the_form_with_the_place(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/map")
    page.wait_for_selector("#reports-map.leaflet-container")
    page.wait_for_selector(".here-tools:not([hidden])")
    watch_live_region(page)
    page.locator("#reports-map").scroll_into_view_if_needed()
    spot = page.evaluate(FREE_SPOT)
    assert spot, "no free spot on the map"
    page.click("#reports-map", position=spot)

    panel = page.wait_for_selector("#here-slot #here")
    assert "45 Lyon Terrace, Bridgeport" in panel.inner_text()
    page.wait_for_function("() => window.said.some(t => t.startsWith('Pin placed: 45 Lyon'))")
    said = page.evaluate("() => window.said")
    announced = re.compile(r"Pin placed: 45 Lyon Terrace, Bridgeport\. \d+ reports? near here\.")
    assert any(announced.match(text) for text in said), said
    pin = "#reports-map .leaflet-marker-icon[alt='Pin at the place you chose']"
    assert page.locator(pin).count() == 1
    assert axe_violations(page) == []

    page.click("#here a:has-text('Report a problem here')")
    page.wait_for_url(re.compile(r"/reports/new\?lat=[-0-9.]+&lon=[-0-9.]+$"))
    lat, lon = re.search(r"lat=([-0-9.]+)&lon=([-0-9.]+)", page.url).groups()
    page.check("#category-pothole")
    page.click("#category-choices button[type=submit]")
    page.wait_for_url(re.compile(r"category=pothole"))
    assert page.input_value("[name=latitude]") == lat
    assert page.input_value("[name=longitude]") == lon
    assert page.input_value("#address") == "45 Lyon Terrace, Bridgeport"
    page.wait_for_function(
        "() => document.getElementById('location-status').textContent.includes('45 Lyon Terrace')"
    )
    assert "The pin is at 45 Lyon Terrace, Bridgeport." in page.inner_text("#location-status")
    assert axe_violations(page) == []
    assert page.js_errors == []


def test_moving_the_pin_on_the_form_says_the_new_address_at_once(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/reports/new?category=streetlight")
    page.wait_for_selector("#map.leaflet-container")
    page.click("button:has-text('Put the pin at the map centre')")
    page.wait_for_function(
        "() => document.getElementById('location-status').textContent.includes('The pin is at')"
    )
    status = page.inner_text("#location-status")
    assert status.startswith("The pin was put at the centre of the map. The pin is at 45 Lyon")
    assert page.input_value("#address") == "45 Lyon Terrace, Bridgeport"
    assert axe_violations(page) == []
    assert page.js_errors == []
