"""#22 item 8 in Chromium: a tap on /map shows the address of the place and the reports
already near it (said in the live region), and "Report a problem here" reaches the report
form with the pin and the address filled in; the home page's "Reports near me" leads
there too, and the map centre button does it from the keyboard; zero axe violations."""

from __future__ import annotations

import re

from tests.browser.conftest import PHONE, axe_violations
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


def test_near_me_on_the_home_page_leads_to_the_form_with_the_phone_s_place(live, browser):
    context = browser.new_context(
        viewport=PHONE,
        bypass_csp=True,
        geolocation={"latitude": 41.1792, "longitude": -73.1894},
        permissions=["geolocation"],
    )
    page = context.new_page()
    page.goto(live.base_url + "/")
    page.click("button:has-text('Reports near me')")
    page.wait_for_url(re.compile(r"/reports\?lat=41\.17920&lon=-73\.18940"))
    assert axe_violations(page) == []
    page.click("#results a:has-text('Report a problem here')")
    page.wait_for_url(re.compile(r"/reports/new\?lat=41\.179200&lon=-73\.189400$"))
    page.check("#category-pothole")
    page.click("#category-choices button[type=submit]")
    page.wait_for_url(re.compile(r"category=pothole"))
    assert page.input_value("[name=latitude]") == "41.179200"
    assert "The place you chose:" in page.inner_text("#location")
    context.close()


def test_the_centre_button_chooses_a_place_from_the_keyboard(live, page_with_js):
    page = page_with_js
    page.goto(live.base_url + "/map")
    page.wait_for_selector(".here-tools:not([hidden])")
    page.focus("button:has-text('Show the reports at the map centre')")
    page.keyboard.press("Enter")
    panel = page.wait_for_selector("#here-slot #here")
    assert "45 Lyon Terrace, Bridgeport" in panel.inner_text()
    assert page.evaluate("() => document.activeElement.textContent").strip() == (
        "Show the reports at the map centre"
    )
