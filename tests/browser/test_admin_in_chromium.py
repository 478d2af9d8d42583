"""Administration in a real browser: every page passes axe with JavaScript on and off and
fits a small phone, and the question preview swaps in as the admin types."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import PASSWORD, axe_violations, horizontal_overflow, sign_in

ADMIN = "admin@bridgeport.example"


@pytest.fixture(scope="module")
def catalogue(live):
    """An admin who can sign in, and the ids the admin pages need."""
    from sqlalchemy import select

    from bpt311.accounts.service import hash_password
    from bpt311.extensions import db
    from bpt311.models import (
        Category,
        Department,
        Open311Endpoint,
        OutboundRequest,
        Report,
        User,
        utcnow,
    )

    with live.app_context():
        admin = db.session.scalars(select(User).where(User.email == ADMIN)).first()
        if admin is None:
            admin = User(
                email=ADMIN,
                role="admin",
                display_name="Ada Admin",
                password_hash=hash_password(PASSWORD),
                email_verified_at=utcnow(),
            )
            db.session.add(admin)
            db.session.commit()
        pothole = db.session.scalars(
            select(Category).where(Category.service_code == "pothole")
        ).one()
        roads = db.session.scalars(
            select(Department).where(Department.name == "Roadway Maintenance")
        ).one()
        works = db.session.scalars(select(Open311Endpoint)).first()
        if works is None:  # a city system that is down, and a report it never took
            works = Open311Endpoint(
                name="Public Works",
                root_url="http://127.0.0.1:9/open311/v2",
                api_key="browser-test-key-0123456789",
            )
            db.session.add(works)
            db.session.flush()
            report = db.session.scalars(select(Report).order_by(Report.id)).first()
            if report is not None:
                db.session.add(
                    OutboundRequest(
                        report_id=report.id,
                        endpoint_id=works.id,
                        state="refused",
                        last_error="service_code pothole is not offered here",
                    )
                )
            db.session.commit()
        return {
            "works": works.id,
            "admin": admin.id,
            "pothole": pothole.id,
            "question": pothole.questions[0].id,
            "roads": roads.id,
        }


PAGES = [
    "/staff/admin",
    "/staff/admin/departments",
    "/staff/admin/departments/new",
    "/staff/admin/departments/ROADS",
    "/staff/admin/categories",
    "/staff/admin/categories/new",
    "/staff/admin/categories/POTHOLE",
    "/staff/admin/categories/POTHOLE/questions/new",
    "/staff/admin/categories/POTHOLE/questions/QUESTION",
    "/staff/admin/users",
    "/staff/admin/users/invite",
    "/staff/admin/users/ADMIN",
    "/staff/admin/api-keys",
    "/staff/admin/places",
    "/staff/admin/open311",
    "/staff/admin/open311/endpoints/new",
    "/staff/admin/open311/endpoints/WORKS",
    "/staff/admin/open311/categories/POTHOLE",
    "/staff/admin/open311/departments/ROADS",
]


def _path(path: str, ids: dict) -> str:
    return (
        path.replace("ROADS", str(ids["roads"]))
        .replace("POTHOLE", str(ids["pothole"]))
        .replace("QUESTION", str(ids["question"]))
        .replace("ADMIN", str(ids["admin"]))
        .replace("WORKS", str(ids["works"]))
    )


@pytest.mark.parametrize("path", PAGES)
def test_admin_pages_pass_axe_with_and_without_javascript(
    live, page_with_js, page_without_js, catalogue, path
):
    for page in (page_with_js, page_without_js):
        sign_in(page, live.base_url, ADMIN)
        page.goto(live.base_url + _path(path, catalogue))
        assert page.locator("h1").count() == 1
        assert axe_violations(page) == []
        assert horizontal_overflow(page) <= 0
    assert page_with_js.js_errors == []


def test_a_refused_category_shows_the_error_summary_accessibly(live, page_without_js, catalogue):
    page = page_without_js
    sign_in(page, live.base_url, ADMIN)
    page.goto(f"{live.base_url}/staff/admin/categories/new")
    page.fill("#name", "Another pothole")
    page.fill("#service_code", "pothole")
    page.fill("#group", "Streets")
    page.select_option("#department_id", str(catalogue["roads"]))
    page.fill("#sla_hours", "0")
    page.click("main button[type=submit]")
    assert page.title().startswith("Error: ")
    summary = page.locator("#error-summary").inner_text()
    assert "already used by Pothole" in summary and "1 or more" in summary
    assert page.input_value("#name") == "Another pothole"
    assert axe_violations(page) == []


def test_the_question_preview_swaps_in_as_the_admin_types(live, page_with_js, catalogue):
    page = page_with_js
    sign_in(page, live.base_url, ADMIN)
    page.goto(f"{live.base_url}/staff/admin/categories/{catalogue['pothole']}/questions/new")
    page.select_option("#datatype", "multivaluelist")
    page.fill("#label", "Which lanes are blocked?")
    page.fill("#code", "lanes")
    page.fill("#options", "left | Left lane\nright | Right lane")
    page.wait_for_function(
        "() => document.querySelector('#question-preview').textContent.includes('Right lane')"
    )
    preview = page.locator("#question-preview")
    assert "Which lanes are blocked?" in preview.inner_text()
    asked = preview.locator("fieldset.field", has_text="Which lanes are blocked?")
    assert asked.locator("input[type=checkbox]").count() == 2
    assert page.url.endswith("/questions/new")  # nothing was submitted
    assert axe_violations(page) == []
    assert page.js_errors == []


def test_the_preview_button_works_without_javascript(live, page_without_js, catalogue):
    page = page_without_js
    sign_in(page, live.base_url, ADMIN)
    page.goto(f"{live.base_url}/staff/admin/categories/{catalogue['pothole']}/questions/new")
    page.select_option("#datatype", "singlevaluelist")
    page.fill("#label", "Is the hole deeper than a hand?")
    page.fill("#code", "deep")
    page.fill("#options", "yes | Yes\nno | No")
    page.click("button:has-text('Preview')")
    preview = page.locator("#question-preview")
    assert "Is the hole deeper than a hand?" in preview.inner_text()
    asked = preview.locator("fieldset.field", has_text="Is the hole deeper than a hand?")
    assert asked.locator("input[type=radio]").count() == 2
    assert page.input_value("#label") == "Is the hole deeper than a hand?"
    assert axe_violations(page) == []


def test_an_upload_preview_passes_axe(live, page_without_js, page_with_js, catalogue, tmp_path):
    square = {
        "type": "Polygon",
        "coordinates": [
            [[-73.2, 41.17], [-73.18, 41.17], [-73.18, 41.19], [-73.2, 41.19], [-73.2, 41.17]]
        ],
    }
    upload = tmp_path / "core.geojson"
    upload.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": {}, "geometry": square}],
            }
        )
    )
    for page in (page_without_js, page_with_js):
        sign_in(page, live.base_url, ADMIN)
        page.goto(f"{live.base_url}/staff/admin/places")
        page.select_option("#kind", "boundary")
        page.set_input_files("#file", str(upload))
        page.click("main button[type=submit]")
        page.wait_for_selector("text=Apply the boundary")
        assert page.locator("svg path").count() == 1
        assert axe_violations(page) == []
        assert horizontal_overflow(page) <= 0


def test_a_failed_connection_test_is_said_clearly_without_javascript(
    live, page_without_js, catalogue
):
    page = page_without_js
    sign_in(page, live.base_url, ADMIN)
    page.goto(f"{live.base_url}/staff/admin/open311/endpoints/{catalogue['works']}")
    page.get_by_role("button", name="Test the connection").click()
    page.wait_for_load_state()
    alert = page.get_by_role("alert")
    assert "The connection failed" in alert.inner_text()
    assert axe_violations(page) == []
    assert horizontal_overflow(page) <= 0
    assert "browser-test-key-0123456789" not in page.content()
