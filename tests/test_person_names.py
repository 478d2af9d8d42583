"""A person's name is stored as typed, but a control character in it is refused at input,
with a clear message and nothing typed lost (security issue #21, finding 1): a line break
in a name reached email subjects and stopped every email behind it.

One check (bpt311.names) is used by every field and every other way in that takes a name.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import Report, User
from bpt311.names import has_control_characters
from tests.conftest import client_for, post_form
from tests.factories import make_user, report_form_data

MESSAGE = "A name cannot contain line breaks, tabs or other control characters"
HOSTILE = ["X\r\nBcc: a@b", "Ana\nSouza", "Ana\x00", "Ana\x1b[31m", "Ana\tSouza", "Ana\u2028B"]
KIND_NAMES = ["José O'Brien-Núñez", "李小龍", "محمد", "Zoë 🌻", "  Ana  "]


def field_value(page: str, name: str) -> str:
    """What a text field shows, as the browser reads the attribute."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert match, name
    value = re.search(r'value="([^"]*)"', match.group(0))
    return html.unescape(value.group(1)) if value else ""


def test_control_characters_are_told_apart_from_any_script():
    assert all(has_control_characters(name) for name in HOSTILE)
    assert not any(has_control_characters(name) for name in KIND_NAMES)


@pytest.mark.parametrize("typed", HOSTILE)
def test_settings_refuse_a_name_with_a_control_character_and_keep_what_was_typed(site, typed):
    me = make_user("maria@example.org", display_name="Maria", show_name=True)
    browser = client_for(site, me)
    response = post_form(browser, "/me/settings", {"display_name": typed, "show_name": "y"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert MESSAGE in page and "Error: " in page
    # A NUL comes back as U+FFFD, as a browser shows one (bpt311.security.Request).
    assert field_value(page, "display_name") == typed.replace("\x00", "\ufffd")
    db.session.expire_all()
    assert db.session.get(User, me.id).display_name == "Maria"


@pytest.mark.parametrize("typed", KIND_NAMES)
def test_settings_keep_any_name_as_typed(site, typed):
    me = make_user("maria@example.org", display_name="Maria")
    response = post_form(client_for(site, me), "/me/settings", {"display_name": typed})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, me.id).display_name == typed.strip()


def test_registration_refuses_a_name_with_a_line_break(site):
    response = post_form(
        client_for(site),
        "/register",
        {
            "email": "new@example.org",
            "display_name": HOSTILE[0],
            "password": "a long and unusual passphrase",
            "confirm": "a long and unusual passphrase",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and MESSAGE in page
    assert field_value(page, "display_name") == HOSTILE[0]
    assert field_value(page, "email") == "new@example.org"
    assert db.session.scalar(select(func.count(User.id))) == 0


@pytest.mark.parametrize(
    ("who", "form_path", "post_path"),
    [
        ("guest", "/reports/new?category=pothole", "/reports/new"),
        ("staff", "/staff/intake?category=pothole", "/staff/intake"),
        ("guest", "/kiosk/report?category=pothole", "/kiosk/report"),
    ],
)
def test_report_forms_refuse_a_contact_name_with_a_line_break(site, who, form_path, post_path):
    user = make_user("clerk@bridgeport.example", role="staff") if who == "staff" else None
    browser = client_for(site, user)
    data = report_form_data(
        browser, page=form_path, contact_name=HOSTILE[0], contact_email="ana@example.org"
    )
    response = browser.post(post_path, data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422, post_path
    assert MESSAGE in body
    assert field_value(body, "contact_name") == HOSTILE[0]
    assert field_value(body, "contact_email") == "ana@example.org"
    assert db.session.scalar(select(func.count(Report.id))) == 0


def test_staff_invite_refuses_a_name_with_a_line_break(site):
    from tests.conftest import department

    roads = department("Roadway Maintenance")
    admin = make_user("admin@bridgeport.example", role="admin")
    response = post_form(
        client_for(site, admin),
        "/staff/admin/users/invite",
        {
            "email": "crew@bridgeport.example",
            "display_name": HOSTILE[0],
            "role": "staff",
            "department_id": str(roads.id),
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and MESSAGE in page
    assert field_value(page, "display_name") == HOSTILE[0]
    assert db.session.scalars(select(User.email)).all() == ["admin@bridgeport.example"]


def test_the_open311_api_refuses_a_name_with_a_line_break(site):
    from bpt311.api.keys import create_key

    key = create_key("Test client").secret
    response = client_for(site).post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "pothole",
            "lat": "41.1792",
            "long": "-73.1894",
            "description": "A deep pothole in the right lane by the bus stop.",
            "attribute[size]": "medium",
            "first_name": "X\r\nBcc: a@b",
        },
    )
    assert response.status_code == 400
    [error] = response.json
    assert "first_name" in error["description"] and "control characters" in error["description"]
    assert db.session.scalar(select(func.count(Report.id))) == 0


def test_users_create_refuses_a_name_with_a_line_break(site):
    result = site.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--email",
            "ops@bridgeport.example",
            "--role",
            "admin",
            "--name",
            "X\r\nBcc: a@b",
            "--password",
            "a long and unusual passphrase",
        ]
    )
    assert result.exit_code != 0 and "control characters" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0
