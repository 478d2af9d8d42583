"""The report form in Spanish and Portuguese in Chromium: it fits a 320 px phone (longer
words on buttons and labels), and its scripts speak the page's language."""

from __future__ import annotations

import pytest

from tests.browser.conftest import SMALL, axe_violations, horizontal_overflow

LANGUAGES = {
    "es": {"counter": "Le quedan 150 caracteres", "error": "Hay un problema"},
    "pt": {"counter": "Restam 150 caracteres", "error": "Há um problema"},
}


@pytest.fixture
def phone_in(browser):
    contexts = []

    def open_page(language: str, javascript: bool = True):
        context = browser.new_context(viewport=SMALL, locale=language)
        if not javascript:
            context.route("**/*.js", lambda route: route.abort())
        contexts.append(context)
        page = context.new_page()
        page.js_errors = []
        page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
        return page

    yield open_page
    for context in contexts:
        context.close()


def wide_elements(page) -> list[str]:
    """Visible controls and text wider than the screen, named for the failure message."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main *, header *')]
            .filter(el => el.getClientRects().length
                && el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .map(el => el.tagName + ' ' + (el.textContent || '').trim().slice(0, 40))"""
    )


@pytest.mark.parametrize("language", sorted(LANGUAGES))
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_the_report_form_fits_320px(live, phone_in, language, javascript):
    page = phone_in(language, javascript)
    for path in ("/reports/new", "/reports/new?category=pothole", "/"):
        page.goto(live.base_url + path)
        assert page.locator("html").get_attribute("lang") == language
        assert horizontal_overflow(page) <= 0, (path, wide_elements(page))
    page.goto(live.base_url + "/reports/new?category=pothole")
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#error-summary")
    assert LANGUAGES[language]["error"] in page.inner_text("#error-summary")
    assert horizontal_overflow(page) <= 0, wide_elements(page)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_the_form_scripts_speak_the_page_language(live, phone_in, language):
    page = phone_in(language)
    page.goto(live.base_url + "/reports/new?category=pothole")
    page.fill("#description", "x" * 1850)
    counter = page.locator("#description-counter")
    counter.wait_for()
    assert counter.inner_text() == LANGUAGES[language]["counter"]
    # The function other scripts use falls back to English for words it does not know.
    assert page.evaluate("() => window.bpt311._('Not a message %(n)s', {n: 3})") == (
        "Not a message 3"
    )
    assert page.js_errors == []


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_pages_in_each_language_pass_axe(live, browser, language):
    """The language of the page and of each switcher button is declared (3.1.1, 3.1.2),
    and the longer words break nothing axe can see."""
    # bypass_csp only so the test can inject axe; the site's own scripts obey the CSP.
    context = browser.new_context(viewport=SMALL, locale=language, bypass_csp=True)
    try:
        page = context.new_page()
        for path in ("/", "/reports/new?category=pothole", "/reports", "/stats", "/kiosk"):
            page.goto(live.base_url + path)
            assert page.locator("html").get_attribute("lang") == language
            assert axe_violations(page) == [], path
            assert page.locator(".lang-switch button[lang=pt]").count() == 1
    finally:
        context.close()
