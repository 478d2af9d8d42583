"""The staff dashboard: staff only, hidden reports counted, who has what open now, the
same figures and downloads as /stats, and a fixed number of queries however many reports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from bpt311.extensions import db
from bpt311.models import utcnow
from tests.conftest import client_for, department
from tests.factories import make_report, make_user


def week_rows(response) -> list[dict]:
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("path", ["/staff/dashboard", "/staff/dashboard/weeks.csv"])
def test_guests_are_sent_to_sign_in(site, path):
    response = client_for(site).get(path)
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/staff/dashboard", "/staff/dashboard/weeks.csv"])
def test_residents_are_refused(site, path):
    response = client_for(site, make_user("maria@example.org")).get(path)
    assert response.status_code == 403


def test_staff_see_the_dashboard_and_its_nav_link(site, clerk):
    page = client_for(site, clerk).get("/staff/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Dashboard</h1>" in html
    assert 'href="/staff/dashboard"' in html  # the back-office nav
    assert html.count('role="img"') == 5
    assert 'href="/staff/dashboard/weeks.csv' in html


def test_hidden_reports_count_for_staff_but_not_the_public(site, clerk):
    make_report("pothole")
    make_report("pothole", hidden_at=utcnow(), hidden_reason="Abuse")
    staff = week_rows(client_for(site, clerk).get("/staff/dashboard/weeks.csv"))
    public = week_rows(client_for(site).get("/stats/weeks.csv"))
    assert staff[-1]["received"] == "2"
    assert public[-1]["received"] == "1"


def test_open_and_overdue_by_department_and_assignee(site, clerk, roads_department):
    late = utcnow() - timedelta(days=10)
    make_report("pothole", assignee=clerk)
    make_report("pothole", assignee=clerk, created_at=late)  # due 72 h after: overdue
    make_report("sidewalk")  # Roadway, no one yet
    make_report("pothole", status="closed", closed_at=utcnow(), assignee=clerk)  # not open
    make_report("streetlight", created_at=late)  # another department, overdue
    html = client_for(site, clerk).get("/staff/dashboard").get_data(as_text=True)
    assert '<tr><th scope="row">Roadway Maintenance</th><td>3</td><td>1</td></tr>' in html
    assert '<tr><th scope="row">Traffic and Street Lighting</th><td>1</td><td>1</td></tr>' in html
    # the clerk's own department's desks only
    assert '<tr><th scope="row">Pat Clerk</th><td>2</td><td>1</td></tr>' in html
    assert '<tr><th scope="row">No one yet</th><td>1</td><td>0</td></tr>' in html


def test_an_admin_sees_every_desk_or_the_chosen_department(site, admin, clerk, roads_department):
    parks = make_user(
        "parks@bridgeport.example",
        role="staff",
        department=department("Parks and Recreation"),
        display_name="Robin Parks",
    )
    make_report("pothole", assignee=clerk)
    make_report("fallen_tree", assignee=parks)
    browser = client_for(site, admin)
    everyone = browser.get("/staff/dashboard").get_data(as_text=True)
    assert "Pat Clerk" in everyone and "Robin Parks" in everyone
    roads_only = browser.get(f"/staff/dashboard?department={roads_department.id}").get_data(
        as_text=True
    )
    assert "Pat Clerk" in roads_only and "Robin Parks" not in roads_only


def test_the_public_page_names_no_assignee(site, clerk):
    make_report("pothole", assignee=clerk)
    assert "Pat Clerk" not in client_for(site).get("/stats").get_data(as_text=True)


def test_the_dashboard_runs_a_fixed_number_of_queries(site, clerk, count_queries):
    from bpt311.seed import make_demo_reports

    browser = client_for(site, clerk)
    make_demo_reports(5, seed=1)
    browser.get("/staff/dashboard")  # warm caches
    with count_queries() as few:
        assert browser.get("/staff/dashboard").status_code == 200
    make_demo_reports(400, seed=2)
    db.session.commit()
    with count_queries() as many:
        assert browser.get("/staff/dashboard").status_code == 200
    assert many.count == few.count
    assert few.count <= 20
    with count_queries() as public:
        assert client_for(site).get("/stats").status_code == 200
    assert public.count <= 16
