"""Days typed into "from" and "until" filters: one reading for every page and export, and a
clear 400 for a day that is not real or lies far from the site's records (never a 500)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bpt311.dates import city_today
from bpt311.extensions import db
from bpt311.models import Neighbourhood, Report
from tests.conftest import client_for, post_form
from tests.factories import make_report

BAD_DAYS = {
    "9999-12-31": "enter a date from 2000-01-01 to",
    "0001-01-01": "enter a date from 2000-01-01 to",
    "2026-02-30": "enter a date like 2026-11-25",
    "<b>soon</b>": "enter a date like 2026-11-25",
}

FORM_PAGES = ["/reports", "/map", "/neighbourhood", "/stats"]
STAFF_FORM_PAGES = ["/staff", "/staff/audit", "/staff/dashboard"]
EXPORTS = ["/reports.csv", "/reports.geojson", "/stats/weeks.csv", "/stats/departments.csv"]
STAFF_EXPORTS = ["/staff/export.csv", "/staff/export.geojson", "/staff/dashboard/weeks.csv"]


@pytest.fixture(autouse=True)
def a_report(site):
    """Every page and export has a report to show."""
    return make_report()


def path_of(page: str) -> str:
    if page == "/neighbourhood":
        return "/neighbourhoods/" + db.session.scalars(select(Neighbourhood.slug)).first()
    return page


def browser_for(site, page: str, admin):
    return client_for(site, admin if page.startswith("/staff") else None)


@pytest.mark.parametrize("day", BAD_DAYS)
@pytest.mark.parametrize("name", ["date_from", "date_to"])
@pytest.mark.parametrize("page", FORM_PAGES + STAFF_FORM_PAGES)
def test_a_bad_day_on_a_form_page_is_a_400_that_keeps_what_was_typed(site, admin, page, name, day):
    client = browser_for(site, page, admin)
    response = client.get(path_of(page), query_string={name: day})
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html[:300]
    assert "<title>Error: " in html
    assert BAD_DAYS[day] in html  # in the summary, and beside the field:
    assert f'id="{name}-error"' in html or f'aria-describedby="{name}-error' in html
    escaped = day.replace("<", "&lt;").replace(">", "&gt;")
    assert f'value="{escaped}"' in html and "<b>soon" not in html


@pytest.mark.parametrize("day", BAD_DAYS)
@pytest.mark.parametrize("page", ["/reports", "/map", "/neighbourhood", "/staff", "/staff/audit"])
def test_a_bad_day_asked_by_htmx_gets_the_error_partial(site, admin, page, day):
    client = browser_for(site, page, admin)
    response = client.get(
        path_of(page), query_string={"date_to": day}, headers={"HX-Request": "true"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<html" not in html and BAD_DAYS[day] in html


@pytest.mark.parametrize("day", BAD_DAYS)
@pytest.mark.parametrize("page", EXPORTS + STAFF_EXPORTS)
def test_a_bad_day_on_an_export_is_refused_before_the_download_starts(site, admin, page, day):
    client = browser_for(site, page, admin)
    response = client.get(page, query_string={"date_from": "2026-01-01", "date_to": day})
    body = response.get_data(as_text=True)  # a stream that broke half-way would raise here
    assert response.status_code == 400
    assert "Content-Disposition" not in response.headers
    assert BAD_DAYS[day] in body
    as_json = client.get(
        page, query_string={"date_to": day}, headers={"Accept": "application/json"}
    )
    assert as_json.status_code == 400 and BAD_DAYS[day] in as_json.get_json()["message"]


def test_days_at_the_ends_of_the_range_are_accepted(site, admin):
    last = (city_today() + timedelta(days=365)).isoformat()
    client = client_for(site, admin)
    for page in FORM_PAGES + STAFF_FORM_PAGES + EXPORTS + STAFF_EXPORTS:
        response = client.get(
            path_of(page), query_string={"date_from": "2000-01-01", "date_to": last}
        )
        assert response.status_code == 200, page
        response.get_data()  # the whole download


@pytest.mark.parametrize("typed", ["9999-12-31T23:59", "0001-01-01T00:00"])
def test_a_due_date_far_from_now_is_refused_with_a_message(site, admin, typed):
    report = make_report()
    due = report.due_at
    client = client_for(site, admin)
    response = post_form(
        client,
        f"/staff/reports/{report.tracking_number}/due",
        {"version": str(report.version), "due": typed},
    )
    assert response.status_code == 422
    assert "Enter a date and time from 2000-01-01" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Report, report.id).due_at == due
