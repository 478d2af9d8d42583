"""A NUL character sent in a form or an address is never a server error: no text column
can hold one (PostgreSQL refuses it outright, so each of these was a 500 there). A form
value's NUL becomes U+FFFD as the request is read, as a browser shows it, so a form sent
back with an error keeps what was typed; a NUL in a query string is a 400."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Report
from tests.conftest import client_for
from tests.factories import report_form_data

NAME_MESSAGE = "A name cannot contain line breaks, tabs or other control characters"


def send_report(browser, **fields):
    """The report form for a pothole, filled in, with ``fields`` changed."""
    data = report_form_data(browser, not_duplicate="1", **fields)
    return browser.post("/reports/new", data=data)


def field_value(page: str, name: str) -> str:
    match = re.search(rf'<(input|textarea)[^>]*name="{name}"[^>]*>([^<]*)', page)
    assert match, name
    if match.group(1) == "textarea":
        return html.unescape(match.group(2)).strip()
    value = re.search(r'value="([^"]*)"', match.group(0))
    return html.unescape(value.group(1)) if value else ""


def test_a_nul_as_the_category_asks_for_a_category_again(site):
    browser = client_for(site)
    response = send_report(browser, category="\x00")
    assert response.status_code == 422
    assert "Choose what kind of problem it is." in response.get_data(as_text=True)
    assert db.session.scalars(select(Report)).all() == []


def test_a_nul_in_the_description_is_kept_as_the_browser_shows_it(site):
    browser = client_for(site)
    response = send_report(browser, description="A deep pothole\x00 by the library.")
    assert response.status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert report.description == "A deep pothole\ufffd by the library."


def test_a_form_with_a_nul_and_an_error_keeps_what_was_typed(site):
    browser = client_for(site)
    response = send_report(browser, address="12 Main\x00 Street", description="")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Error: " in page
    assert field_value(page, "address") == "12 Main\ufffd Street"
    assert db.session.scalars(select(Report)).all() == []


def test_a_nul_in_the_contact_name_is_refused_as_a_control_character(site):
    browser = client_for(site)
    response = send_report(browser, contact_name="Ana\x00", contact_email="a@example.org")
    assert response.status_code == 422
    assert NAME_MESSAGE in response.get_data(as_text=True)
    assert db.session.scalars(select(Report)).all() == []


def test_a_nul_in_a_field_name_or_a_key_is_no_error_either(site):
    browser = client_for(site)
    response = send_report(browser, submission_key="\x00", **{"place\x00": "\x00"})
    assert response.status_code in (303, 422)


def test_a_nul_in_a_query_string_is_a_400(site):
    response = client_for(site).get("/reports?q=pot%00hole", headers={"Accept": "text/html"})
    assert response.status_code == 400
    assert "cannot be used" in response.get_data(as_text=True)
