"""A live server in a thread and Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bpt311 import create_app
from bpt311.extensions import db
from tests.conftest import app_settings, free_port, wipe_tables
from tests.fake_nominatim import FakeNominatim, nominatim_place

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

if not os.path.exists(CHROMIUM):
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="session")
def geocoder():
    with FakeNominatim(
        {
            "lyon terrace": [
                nominatim_place(41.17920, -73.18940, house_number="45", road="Lyon Terrace")
            ],
        },
        reverse_result=nominatim_place(41.1792, -73.1894, house_number="45", road="Lyon Terrace"),
    ) as fake:
        yield fake


@pytest.fixture(scope="package")
def live(database_url, _schema, tmp_path_factory, geocoder):
    """The site on a free loopback port, with the city and a few dozen demo reports.
    Package-scoped: its data is wiped before the rest of the suite runs."""
    app = create_app(
        app_settings(
            database_url,
            tmp_path_factory.mktemp("live"),
            GEOCODER_URL=geocoder.url,
            RATELIMIT_ENABLED=False,
            MAP_TILE_URL="http://127.0.0.1:9/{z}/{x}/{y}.png",
        )
    )
    with app.app_context():
        from bpt311.seed import load_city, make_demo_reports

        wipe_tables()
        load_city()
        make_demo_reports(40)
        _people()
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.base_url = f"http://127.0.0.1:{port}"
    yield app
    server.shutdown()
    with app.app_context():
        wipe_tables()
        db.engine.dispose()


PASSWORD = "correct horse battery"


def _people() -> None:
    """A resident and a Roadway Maintenance clerk who can sign in with PASSWORD."""
    from sqlalchemy import select

    from bpt311.accounts.service import hash_password
    from bpt311.models import Department, User, utcnow

    roads = db.session.scalars(
        select(Department).where(Department.name == "Roadway Maintenance")
    ).one()
    for email, role, department in (
        ("maria@example.org", "resident", None),
        ("clerk@bridgeport.example", "staff", roads),
    ):
        db.session.add(
            User(
                email=email,
                role=role,
                department=department,
                display_name=email.split("@")[0].title(),
                show_name=True,
                password_hash=hash_password(PASSWORD),
                email_verified_at=utcnow(),
            )
        )
    db.session.commit()


def sign_in(page, base_url: str, email: str) -> None:
    page.goto(base_url + "/sign-in")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/sign-in" not in url)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


PHONE = {"width": 360, "height": 740}
SMALL = {"width": 320, "height": 568}


@pytest.fixture
def page_with_js(browser):
    # bypass_csp only so the test can inject axe; the site's own scripts obey the CSP.
    context = browser.new_context(viewport=PHONE, bypass_csp=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    yield page
    context.close()


@pytest.fixture
def page_without_js(browser):
    """The site as a browser without JavaScript gets it: none of the site's scripts load.
    (The browser's own JavaScript stays on only so the test can run axe in the page.)"""
    context = browser.new_context(viewport=SMALL, bypass_csp=True)
    context.route("**/*.js", lambda route: route.abort())
    page = context.new_page()
    yield page
    context.close()


def axe_violations(page) -> list[dict]:
    """Run axe-core in the page (JavaScript on or off for the site: axe runs regardless).

    Map markers are left out: they may crowd each other, and WCAG 2.5.8's "equivalent"
    exception applies because every marker's report is also in the list on the same page.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        "async (tags) => (await axe.run({exclude: [['.leaflet-marker-pane']]},"
        " {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))",
        AXE_TAGS,
    )
    return result


def horizontal_overflow(page) -> int:
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
