"""Staff exports: the queue's reports, whatever its filter, as CSV and GeoJSON with the
private fields, for staff only."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from bpt311.models import utcnow
from tests.conftest import client_for
from tests.factories import make_report, make_user

NUMBER = re.compile(r">(BPT-\d{6})</a>")


@pytest.fixture
def reports(clerk):
    """Roadway work in every state, one hidden, and a street light (another department)."""
    made = {
        "open": make_report(
            "pothole",
            description="Pothole outside the school",
            contact_name="Ana Caller",
            contact_email="ana@example.org",
            contact_phone="203-555-0100",
        ),
        "mine": make_report("pothole", description="Pothole by the bus stop", assignee=clerk),
        "acknowledged": make_report(
            "sidewalk",
            description="Cracked sidewalk",
            status="acknowledged",
            acknowledged_at=utcnow(),
        ),
        "closed": make_report(
            "pothole", description="Filled pothole", status="closed", closed_at=utcnow()
        ),
        "hidden": make_report(
            "pothole", description="Rude words", hidden_at=utcnow(), hidden_reason="Abuse"
        ),
        "formula": make_report(
            "pothole", description='=HYPERLINK("http://evil")', contact_name="@SUM(A1)"
        ),
        "elsewhere": make_report("streetlight", description="Street light out on Main"),
    }
    return made


def queue_numbers(client, query: str) -> set[str]:
    page = client.get(f"/staff/?{query}")
    assert page.status_code == 200
    return set(NUMBER.findall(page.get_data(as_text=True)))


def csv_export(client, query: str) -> list[dict]:
    response = client.get(f"/staff/export.csv?{query}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "no-store" in response.headers["Cache-Control"]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def geojson_export(client, query: str) -> dict:
    response = client.get(f"/staff/export.geojson?{query}")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    return json.loads(response.get_data(as_text=True))


@pytest.mark.parametrize(
    "query",
    [
        "",  # the queue's default: open work of the clerk's department
        "all=1",
        "status=closed",
        "category=pothole&all=1",
        "assignee=me",
        "assignee=none",
        "q=bus+stop",
        "source=web&sort=votes",
    ],
)
def test_exports_hold_exactly_the_queues_reports(site, clerk, reports, query):
    browser = client_for(site, clerk)
    expected = queue_numbers(browser, query)
    rows = csv_export(browser, query)
    assert [row["tracking_number"] for row in rows]  # never trivially empty here
    assert {row["tracking_number"] for row in rows} == expected
    features = geojson_export(browser, query)["features"]
    assert {f["properties"]["tracking_number"] for f in features} == expected


def test_a_clerk_exports_only_their_department(site, clerk, reports):
    rows = csv_export(client_for(site, clerk), "all=1")
    assert {row["department"] for row in rows} == {"Roadway Maintenance"}
    assert reports["elsewhere"].tracking_number not in {row["tracking_number"] for row in rows}


def test_an_admin_exports_every_department_or_the_one_chosen(
    site, admin, reports, roads_department
):
    browser = client_for(site, admin)
    everything = {row["tracking_number"] for row in csv_export(browser, "all=1")}
    assert everything == {report.tracking_number for report in reports.values()}
    one = csv_export(browser, f"all=1&department={roads_department.id}")
    assert {row["department"] for row in one} == {"Roadway Maintenance"}


def test_exports_carry_the_private_fields(site, clerk, reports):
    browser = client_for(site, clerk)
    rows = {row["tracking_number"]: row for row in csv_export(browser, "all=1")}
    caller = rows[reports["open"].tracking_number]
    assert (caller["contact_name"], caller["contact_email"], caller["contact_phone"]) == (
        "Ana Caller",
        "ana@example.org",
        "203-555-0100",
    )
    mine = rows[reports["mine"].tracking_number]
    assert (mine["assignee"], mine["assignee_email"]) == ("Pat Clerk", "clerk@bridgeport.example")
    hidden = rows[reports["hidden"].tracking_number]
    assert hidden["hidden_reason"] == "Abuse" and hidden["hidden_at"]
    assert caller["due_at"] and caller["source"] == "web"
    feature = next(
        f
        for f in geojson_export(browser, "all=1")["features"]
        if f["properties"]["tracking_number"] == reports["open"].tracking_number
    )
    assert feature["properties"]["contact_email"] == "ana@example.org"
    assert feature["geometry"]["coordinates"] == [
        reports["open"].longitude,
        reports["open"].latitude,
    ]


def test_csv_export_defuses_formulas(site, clerk, reports):
    rows = {row["tracking_number"]: row for row in csv_export(client_for(site, clerk), "all=1")}
    row = rows[reports["formula"].tracking_number]
    assert row["description"] == '\'=HYPERLINK("http://evil")'
    assert row["contact_name"] == "'@SUM(A1)"


@pytest.mark.parametrize("path", ["/staff/export.csv", "/staff/export.geojson"])
def test_guests_are_sent_to_sign_in(site, path):
    response = client_for(site).get(path + "?all=1")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/staff/export.csv", "/staff/export.geojson"])
def test_residents_are_refused(site, reports, path):
    resident = make_user("maria@example.org")
    response = client_for(site, resident).get(path + "?all=1")
    assert response.status_code == 403
    assert "ana@example.org" not in response.get_data(as_text=True)


def test_the_queue_links_to_its_exports_with_its_filter(site, clerk, reports):
    page = client_for(site, clerk).get("/staff/?category=pothole&status=closed")
    html = page.get_data(as_text=True)
    assert 'href="/staff/export.csv?category=pothole&amp;status=closed"' in html
    assert 'href="/staff/export.geojson?category=pothole&amp;status=closed"' in html
    partial = client_for(site, clerk).get("/staff/?all=1", headers={"HX-Request": "true"})
    assert 'href="/staff/export.csv?all=1"' in partial.get_data(as_text=True)


def test_an_export_of_nothing_is_still_well_formed(site, clerk):
    browser = client_for(site, clerk)
    assert csv_export(browser, "") == []
    assert geojson_export(browser, "") == {"type": "FeatureCollection", "features": []}
