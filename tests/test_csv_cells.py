"""CSV cells: text is guarded against spreadsheet formulas, numbers stay numbers (security
issue #21, finding 13: the guard turned every longitude, -73.1951, into '-73.1951)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from bpt311.extensions import db
from bpt311.models import Department
from bpt311.spreadsheets import spreadsheet_safe
from tests.conftest import client_for
from tests.factories import make_report, make_user

LONGITUDE = -73.1951


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200 and response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.mark.parametrize("number", [-73.1951, -5, 0, 41.17, Decimal("-1.5")])
def test_numbers_are_written_as_numbers(number):
    assert spreadsheet_safe(number) == number


@pytest.mark.parametrize("text", ["=1+1", "+1", "-73.1951", "@SUM(A1)", "\tx", "\rx", "-5"])
def test_text_that_a_spreadsheet_would_run_is_still_guarded(text):
    assert spreadsheet_safe(text) == "'" + text


def test_a_number_that_is_not_finite_is_guarded_as_text():
    assert spreadsheet_safe(float("-inf")) == "'-inf"
    assert spreadsheet_safe(float("nan")) == "nan"


def test_the_public_csv_keeps_longitudes_and_guards_text(site):
    make_report(longitude=LONGITUDE, description="-5 degrees and the pothole froze over")
    [row] = csv_rows(client_for(site).get("/reports.csv"))
    assert row["longitude"] == "-73.1951"
    assert float(row["latitude"]) > 41
    assert row["description"] == "'-5 degrees and the pothole froze over"


def test_the_staff_export_keeps_longitudes_and_guards_text(site):
    make_report(longitude=LONGITUDE, contact_name="-Ana", address="+1 Main Street")
    clerk = make_user("admin@bridgeport.example", role="admin")
    [row] = csv_rows(client_for(site, clerk).get("/staff/export.csv?all=1"))
    assert row["longitude"] == "-73.1951"
    assert row["contact_name"] == "'-Ana" and row["address"] == "'+1 Main Street"
    assert row["votes"] == "0"


def test_the_figures_csv_guards_text_not_counts(site):
    odd = Department(name="-Parks")
    db.session.add(odd)
    db.session.commit()
    make_report(department_id=odd.id)  # the factory counts it in the daily figures
    rows = csv_rows(client_for(site).get("/stats/departments.csv"))
    [parks] = [row for row in rows if row["department"] == "'-Parks"]
    assert parks["received"] == "1"
