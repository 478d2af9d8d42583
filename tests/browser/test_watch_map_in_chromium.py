"""The watch-area page's map loads with the shared Leaflet loader and raises no error."""

from tests.browser.conftest import sign_in


def test_drawing_page_loads_its_map_without_errors(live, page_with_js):
    page = page_with_js
    sign_in(page, live.base_url, "maria@example.org")
    page.goto(live.base_url + "/watch/new")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => typeof window.L") == "object"  # Leaflet was loaded
    assert page.js_errors == []
