"""The layout every page shares, the home page, a report page and the health check."""

import re

import pytest

from bpt311 import create_app
from tests.conftest import app_settings
from tests.factories import make_report


def test_layout_has_language_landmarks_skip_link_and_one_live_region(client, city):
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'<html lang="en">', page)
    assert '<a class="skip-link" href="#main">' in page
    for landmark in ("<header", "<nav", '<main id="main"', "<footer"):
        assert landmark in page
    assert page.count("aria-live=") == 1
    assert 'aria-live="polite"' in page
    # static names carry a content hash (bpt311/assets.py)
    assert re.search(r'<script src="/static/vendor/htmx-2\.0\.\d+/htmx\.min\.\w{10}\.js"', page)
    assert re.search(r'<link rel="stylesheet" href="/static/css/site\.[0-9a-f]{10}\.css">', page)


def test_every_htmx_request_will_carry_the_csrf_token(client, city):
    # A page for a person carries the token; a public page (the same for every visitor not
    # signed in, cached) carries none and has no form that posts (tests/test_public_cache.py).
    page = client.get("/sign-in").get_data(as_text=True)
    assert re.search(r"<body hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'>", page)
    assert "X-CSRFToken" not in client.get("/").get_data(as_text=True)


def test_home_page_lists_categories_figures_and_latest_reports(client, city):
    report = make_report(description="Huge pothole outside the library")
    page = client.get("/").get_data(as_text=True)
    assert "Report a problem in Bridgeport" in page
    assert "Street light out" in page and "Trash and recycling" in page
    assert report.tracking_number in page
    assert "Huge pothole outside the library" in page
    assert "1</strong> reported in the last 7 days" in page


def test_home_page_without_reports_says_so(client, city):
    page = client.get("/").get_data(as_text=True)
    assert "No reports yet" in page


def test_report_page_shows_the_public_facts_and_timeline(client, city):
    report = make_report(
        "pothole",
        answers={"size": "large", "travel_lane": "yes"},
        contact_name="Maria Private",
        contact_email="maria@example.org",
        anonymous=True,
    )
    response = client.get(f"/reports/{report.tracking_number}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Pothole" in page and "Open" in page and "Roadway Maintenance" in page
    assert "Larger than a car tyre" in page  # the answer in words, not its key
    assert "Submitted" in page
    assert "Maria Private" not in page and "maria@example.org" not in page


def test_report_page_accepts_a_loosely_typed_tracking_number(client, city):
    report = make_report()
    response = client.get(f"/reports/bpt{report.id}")
    assert response.status_code == 301
    assert response.headers["Location"].endswith(f"/reports/{report.tracking_number}")


@pytest.mark.parametrize("number", ["BPT-999999", "nonsense", "BPT-", "123", "BPT-3000000000"])
def test_unknown_report_is_404(client, city, number):
    assert client.get(f"/reports/{number}").status_code == 404


def test_healthz_answers_ok_when_the_database_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_answers_503_and_healthz_stays_alive_when_the_database_does_not(
    tmp_path, database_url
):
    if database_url.startswith("sqlite"):
        broken = "sqlite:///" + str(tmp_path / "missing-dir" / "nested" / "db.sqlite")
    else:
        broken = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    app = create_app(app_settings(broken, tmp_path))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert app.test_client().get("/healthz").status_code == 200  # alive: do not restart it
