"""The privacy page, "Your data" and account deletion in a real browser: accessible with
JavaScript on and off, at 320 px, and the download and deletion work."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import PASSWORD, axe_violations, horizontal_overflow, sign_in


def test_privacy_page_without_javascript_at_320px(live, page_without_js):
    page = page_without_js
    page.goto(f"{live.base_url}/")
    page.click("footer a:has-text('Privacy')")
    page.wait_for_url("**/privacy")
    assert page.locator("h1").inner_text() == "Privacy"
    assert "365 days after the report is closed" in page.locator("main").inner_text()
    assert axe_violations(page) == []
    assert horizontal_overflow(page) == 0


@pytest.mark.parametrize("path", ["/privacy", "/me/data", "/me/settings/delete"])
def test_signed_in_privacy_pages_have_no_axe_violations(live, page_with_js, path):
    page = page_with_js
    sign_in(page, live.base_url, "maria@example.org")
    page.goto(live.base_url + path)
    assert axe_violations(page) == []
    assert horizontal_overflow(page) == 0
    assert page.js_errors == []


def test_download_my_data_from_settings(live, page_with_js, tmp_path):
    page = page_with_js
    sign_in(page, live.base_url, "maria@example.org")
    page.goto(live.base_url + "/me/settings")
    page.click("a:has-text('Download my data')")
    page.wait_for_url("**/me/data")
    with page.expect_download() as download:
        page.click("a.button:has-text('Download my data')")
    saved = tmp_path / "mine.json"
    download.value.save_as(saved)
    assert json.loads(saved.read_text())["account"]["email"] == "maria@example.org"


def test_deleting_an_account_with_errors_then_for_real(live, page_without_js):
    from bpt311.accounts.service import hash_password
    from bpt311.extensions import db
    from bpt311.models import User, utcnow

    with live.app_context():
        db.session.add(
            User(
                email="leaving@example.org",
                display_name="Leaving",
                password_hash=hash_password(PASSWORD),
                email_verified_at=utcnow(),
            )
        )
        db.session.commit()
    page = page_without_js
    sign_in(page, live.base_url, "leaving@example.org")
    page.goto(live.base_url + "/me/settings/delete")
    page.fill("#password", "not my password")
    page.click("main button[type=submit]")
    assert page.title().startswith("Error: ")
    assert "Your password is not right" in page.locator("[role=alert]").inner_text()
    assert axe_violations(page) == []
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(live.base_url + "/")
    assert "Your account has been deleted" in page.locator("#flash").inner_text()
