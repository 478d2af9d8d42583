"""Administration: who may use it, departments, categories and their questions, and how
changes reach the report form and Open311 at once."""

import json
import re

import pytest
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import AuditLog, Category, CategoryQuestion, Department
from tests.conftest import HTMX, client_for, department
from tests.conftest import post_form as post
from tests.factories import make_report, make_user


@pytest.fixture
def browser(site, admin):
    return client_for(site, admin)


def page(response) -> str:
    return response.get_data(as_text=True)


def audit_actions() -> list[str]:
    db.session.expire_all()
    return db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()


def category_form(**changes) -> dict:
    values = {
        "name": "Graffiti on a bridge",
        "service_code": "bridge_graffiti",
        "group": "Streets",
        "description": "Paint or tags on a bridge or overpass.",
        "keywords": "tag, spray paint",
        "department_id": str(department("Roadway Maintenance").id),
        "sla_hours": "72",
        "position": "",
        "active": "y",
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


def service_codes(client) -> list[str]:
    return [s["service_code"] for s in client.get("/open311/v2/services.json").get_json()]


def reports_new(client) -> str:
    return page(client.get("/reports/new"))


# ---- who may use it -----------------------------------------------------------------------


def admin_routes(site) -> list[tuple[str, str]]:
    pothole = db.session.scalars(select(Category).where(Category.service_code == "pothole")).one()
    question = pothole.questions[0]
    roads = department("Roadway Maintenance")
    someone = make_user("someone@example.org")
    from bpt311.staff.administration.api_keys import create_api_key

    made = create_api_key(someone, "Test system")
    base = "/staff/admin"
    return [
        ("GET", base),
        ("GET", f"{base}/departments"),
        ("GET", f"{base}/departments/new"),
        ("POST", f"{base}/departments/new"),
        ("GET", f"{base}/departments/{roads.id}"),
        ("POST", f"{base}/departments/{roads.id}"),
        ("GET", f"{base}/categories"),
        ("GET", f"{base}/categories/new"),
        ("POST", f"{base}/categories/new"),
        ("GET", f"{base}/categories/{pothole.id}"),
        ("POST", f"{base}/categories/{pothole.id}"),
        ("POST", f"{base}/categories/{pothole.id}/active"),
        ("POST", f"{base}/categories/{pothole.id}/delete"),
        ("GET", f"{base}/categories/{pothole.id}/questions/new"),
        ("POST", f"{base}/categories/{pothole.id}/questions/new"),
        ("GET", f"{base}/categories/{pothole.id}/questions/{question.id}"),
        ("POST", f"{base}/categories/{pothole.id}/questions/{question.id}"),
        ("POST", f"{base}/categories/{pothole.id}/questions/{question.id}/delete"),
        ("GET", f"{base}/users"),
        ("GET", f"{base}/users/invite"),
        ("POST", f"{base}/users/invite"),
        ("GET", f"{base}/users/{someone.id}"),
        ("POST", f"{base}/users/{someone.id}"),
        ("POST", f"{base}/users/{someone.id}/active"),
        ("GET", f"{base}/api-keys"),
        ("POST", f"{base}/api-keys"),
        ("POST", f"{base}/api-keys/{made.record.id}/revoke"),
        ("GET", f"{base}/places"),
        ("POST", f"{base}/places/preview"),
        ("POST", f"{base}/places/apply"),
    ]


def test_guests_are_sent_to_sign_in_from_every_admin_route(site):
    routes = admin_routes(site)
    before = audit_actions()
    guest = client_for(site)
    for method, path in routes:
        response = post(guest, path) if method == "POST" else guest.get(path)
        assert response.status_code == 302, (method, path)
        assert response.headers["Location"].startswith("/sign-in?next="), (method, path)
    assert audit_actions() == before


@pytest.mark.parametrize("role", ["resident", "staff"])
def test_residents_and_staff_who_are_not_admins_are_refused_every_admin_route(site, role):
    routes = admin_routes(site)
    before = audit_actions()
    person = make_user(
        f"{role}@example.org",
        role=role,
        department=department("Roadway Maintenance") if role == "staff" else None,
    )
    browser = client_for(site, person)
    for method, path in routes:
        response = post(browser, path) if method == "POST" else browser.get(path)
        assert response.status_code == 403, (method, path)
    assert audit_actions() == before
    db.session.expire_all()
    assert db.session.scalars(select(Category).where(Category.service_code == "pothole")).one()


def test_a_post_without_the_csrf_token_is_refused(browser):
    response = browser.post("/staff/admin/categories/new", data=category_form())
    assert response.status_code == 400
    assert (
        db.session.scalar(select(func.count()).where(Category.service_code == "bridge_graffiti"))
        == 0
    )


def test_admins_see_administration_in_the_staff_menu_and_staff_do_not(site, browser):
    home = page(browser.get("/staff/admin"))
    for section in (
        "Departments",
        "Categories and questions",
        "Saved replies",
        "People and roles",
        "Open311 API keys",
        "Boundary and neighbourhoods",
    ):
        assert section in home
    assert 'href="/staff/templates"' in home
    assert 'href="/staff/admin">Administration</a>' in page(browser.get("/staff/"))
    clerk = make_user(
        "clerk@example.org", role="staff", department=department("Roadway Maintenance")
    )
    assert "/staff/admin" not in page(client_for(site, clerk).get("/staff/"))


# ---- departments --------------------------------------------------------------------------


def test_departments_list_their_contacts_and_staff(site, browser):
    make_user(
        "pat@bridgeport.example",
        role="staff",
        department=department("Roadway Maintenance"),
        display_name="Pat Crew",
    )
    listing = page(browser.get("/staff/admin/departments"))
    assert "Roadway Maintenance" in listing and "roadway@bridgeport.example" in listing
    assert "Pat Crew" in listing


def test_adding_a_department_is_audited_and_a_clashing_name_is_refused(browser):
    response = post(
        browser,
        "/staff/admin/departments/new",
        {"name": "Harbour Master", "email": "harbour@bridgeport.example", "phone": ""},
    )
    assert response.status_code == 303
    harbour = db.session.scalars(
        select(Department).where(Department.name == "Harbour Master")
    ).one()
    assert harbour.email == "harbour@bridgeport.example"
    assert audit_actions()[-1] == "department.create"

    response = post(
        browser,
        "/staff/admin/departments/new",
        {"name": "roadway maintenance", "email": "new@bridgeport.example"},
    )
    assert response.status_code == 422
    html = page(response)
    assert "There is already a department called Roadway Maintenance" in html
    assert 'value="new@bridgeport.example"' in html  # what was typed is kept
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Department)
            .where(func.lower(Department.name) == "roadway maintenance")
        )
        == 1
    )


# ---- categories ---------------------------------------------------------------------------


def test_a_new_category_shows_at_once_in_the_report_form_and_open311(site, browser):
    resident = client_for(site)
    assert "Graffiti on a bridge" not in reports_new(resident)
    assert "bridge_graffiti" not in service_codes(resident)

    response = post(browser, "/staff/admin/categories/new", category_form())
    assert response.status_code == 303
    assert "Graffiti on a bridge" in reports_new(resident)
    assert "bridge_graffiti" in service_codes(resident)
    entry = [
        s
        for s in resident.get("/open311/v2/services.json").get_json()
        if s["service_code"] == "bridge_graffiti"
    ][0]
    assert entry["group"] == "Streets" and entry["keywords"] == "tag, spray paint"
    assert audit_actions()[-1] == "category.create"


def test_a_clashing_service_code_is_refused_and_the_form_keeps_what_was_typed(browser):
    before = audit_actions()
    response = post(
        browser,
        "/staff/admin/categories/new",
        category_form(service_code="Pothole", name="Sinkhole"),
    )
    assert response.status_code == 422
    html = page(response)
    assert "The service code Pothole is already used by Pothole" in html
    assert 'role="alert"' in html and "<title>Error: " in html
    assert 'value="Sinkhole"' in html and 'value="Pothole"' in html
    assert db.session.scalar(select(func.count()).where(Category.name == "Sinkhole")) == 0
    assert audit_actions() == before


@pytest.mark.parametrize("sla", ["0", "-4"])
def test_an_sla_of_zero_or_less_is_refused_and_nothing_changes(browser, sla):
    pothole = db.session.scalars(select(Category).where(Category.service_code == "pothole")).one()
    hours, name = pothole.sla_hours, pothole.name
    response = post(
        browser,
        f"/staff/admin/categories/{pothole.id}",
        category_form(service_code="pothole", name="Renamed pothole", sla_hours=sla),
    )
    assert response.status_code == 422
    html = page(response)
    assert "Enter the SLA as a whole number of hours, 1 or more" in html
    assert f'value="{sla}"' in html and 'value="Renamed pothole"' in html
    db.session.expire_all()
    pothole = db.session.get(Category, pothole.id)
    assert (pothole.sla_hours, pothole.name) == (hours, name)


def test_an_sla_that_is_not_a_number_keeps_what_was_typed(browser):
    response = post(browser, "/staff/admin/categories/new", category_form(sla_hours="two days"))
    assert response.status_code == 422
    assert "Enter a whole number, like 48" in page(response)
    assert 'value="two days"' in page(response)


def test_editing_a_category_changes_its_sla_and_department_and_records_what_changed(browser):
    pothole = db.session.scalars(select(Category).where(Category.service_code == "pothole")).one()
    parks = department("Parks and Recreation")
    response = post(
        browser,
        f"/staff/admin/categories/{pothole.id}",
        category_form(
            service_code="pothole",
            name="Pothole",
            group=pothole.group,
            sla_hours="24",
            department_id=str(parks.id),
        ),
    )
    assert response.status_code == 303
    db.session.expire_all()
    pothole = db.session.get(Category, pothole.id)
    assert pothole.sla_hours == 24 and pothole.department_id == parks.id
    row = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert row.action == "category.update" and row.detail["changes"]["sla_hours"][1] == 24


def test_a_deactivated_category_leaves_the_form_and_open311_and_can_come_back(site, browser):
    pothole = db.session.scalars(select(Category).where(Category.service_code == "pothole")).one()
    resident = client_for(site)
    response = post(browser, f"/staff/admin/categories/{pothole.id}/active", {"active": "0"})
    assert response.status_code == 303
    assert 'value="pothole"' not in reports_new(resident)
    assert "pothole" not in service_codes(resident)
    assert resident.get("/open311/v2/services/pothole.json").status_code == 404
    assert audit_actions()[-1] == "category.deactivate"

    post(browser, f"/staff/admin/categories/{pothole.id}/active", {"active": "1"})
    assert "pothole" in service_codes(resident)
    assert audit_actions()[-1] == "category.activate"


def test_a_category_with_reports_cannot_be_deleted_only_deactivated(browser):
    make_report("pothole")
    pothole = db.session.scalars(select(Category).where(Category.service_code == "pothole")).one()
    html = page(browser.get(f"/staff/admin/categories/{pothole.id}"))
    assert "can be deactivated but not deleted" in html
    response = post(browser, f"/staff/admin/categories/{pothole.id}/delete")
    assert response.status_code == 303
    followed = page(browser.get(response.headers["Location"]))
    assert "has 1 report, so it cannot be deleted: deactivate it instead" in followed
    db.session.expire_all()
    assert db.session.get(Category, pothole.id) is not None


def test_a_category_without_reports_can_be_deleted(browser):
    post(browser, "/staff/admin/categories/new", category_form())
    made = db.session.scalars(
        select(Category).where(Category.service_code == "bridge_graffiti")
    ).one()
    made_id = made.id
    response = post(browser, f"/staff/admin/categories/{made_id}/delete")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Category, made_id) is None
    assert audit_actions()[-1] == "category.delete"


# ---- questions ----------------------------------------------------------------------------


def question_form(**changes) -> dict:
    values = {
        "datatype": "singlevaluelist",
        "code": "colour",
        "label": "What colour is the paint?",
        "hint": "Roughly is fine",
        "required": "y",
        "options": "red | Red\nblue | Blue\nOther colours",
        "position": "",
    }
    values.update(changes)
    return {key: value for key, value in values.items() if value is not None}


@pytest.fixture
def graffiti(browser):
    post(browser, "/staff/admin/categories/new", category_form())
    return db.session.scalars(
        select(Category).where(Category.service_code == "bridge_graffiti")
    ).one()


def test_a_new_question_shows_at_once_in_the_report_form_and_the_service_definition(
    site, browser, graffiti
):
    response = post(
        browser, f"/staff/admin/categories/{graffiti.id}/questions/new", question_form()
    )
    assert response.status_code == 303
    resident = client_for(site)
    form = page(resident.get("/reports/new?category=bridge_graffiti"))
    assert "What colour is the paint?" in form and "Roughly is fine" in form
    assert 'value="other_colours"' in form and "Other colours" in form
    definition = resident.get("/open311/v2/services/bridge_graffiti.json").get_json()
    [attribute] = definition["attributes"]
    assert attribute["code"] == "colour" and attribute["required"] is True
    assert [v["key"] for v in attribute["values"]] == ["red", "blue", "other_colours"]
    assert "bridge_graffiti" in service_codes(resident)
    assert audit_actions()[-1] == "question.create"


def test_a_list_question_without_options_is_refused_and_the_form_keeps_what_was_typed(
    browser, graffiti
):
    response = post(
        browser,
        f"/staff/admin/categories/{graffiti.id}/questions/new",
        question_form(options="  \n"),
    )
    assert response.status_code == 422
    html = page(response)
    assert "A list question needs at least one option" in html
    assert 'value="What colour is the paint?"' in html and 'value="colour"' in html
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(CategoryQuestion)
            .where(CategoryQuestion.category_id == graffiti.id)
        )
        == 0
    )


def test_a_question_code_used_twice_in_a_category_is_refused(browser, graffiti):
    post(browser, f"/staff/admin/categories/{graffiti.id}/questions/new", question_form())
    response = post(
        browser,
        f"/staff/admin/categories/{graffiti.id}/questions/new",
        question_form(datatype="string", label="Anything else?"),
    )
    assert response.status_code == 422
    assert "already has a question with the code colour" in page(response)


def test_the_preview_swaps_in_the_form_as_residents_see_it_and_saves_nothing(browser, graffiti):
    path = f"/staff/admin/categories/{graffiti.id}/questions/new"
    response = post(
        browser, path, question_form(options="big | Big\nsmall | Small", preview="1"), headers=HTMX
    )
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    partial = page(response)
    assert "<html" not in partial and partial.lstrip().startswith('<section id="question-preview"')
    assert "<legend>What colour is the paint?" in partial
    assert 'type="radio"' in partial and ">Big</label>" in partial
    assert "About the graffiti on a bridge" in partial

    # Without JavaScript the Preview button posts the whole form and gets the page back.
    response = post(browser, path, question_form(datatype="text", preview="1"))
    html = page(response)
    assert response.status_code == 200 and "<html" in html
    assert '<textarea id="answer_colour"' in html.replace("\n", " ") or "answer_colour" in html
    assert 'value="What colour is the paint?"' in html  # the admin's form keeps its values
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(CategoryQuestion)
            .where(CategoryQuestion.category_id == graffiti.id)
        )
        == 0
    )


def test_the_preview_renders_the_same_markup_as_the_report_form(site, browser, graffiti):
    post(browser, f"/staff/admin/categories/{graffiti.id}/questions/new", question_form())
    question = db.session.scalars(
        select(CategoryQuestion).where(CategoryQuestion.category_id == graffiti.id)
    ).one()
    preview = page(
        post(
            browser,
            f"/staff/admin/categories/{graffiti.id}/questions/{question.id}",
            question_form(preview="1"),
            headers=HTMX,
        )
    )
    form = page(client_for(site).get("/reports/new?category=bridge_graffiti"))

    def fieldset(html: str) -> str:
        return re.search(r'<fieldset class="group">.*?</fieldset>\s*</fieldset>', html, re.S).group(
            0
        )

    assert fieldset(preview) == fieldset(form)


def test_editing_and_removing_a_question_is_audited(browser, graffiti):
    post(browser, f"/staff/admin/categories/{graffiti.id}/questions/new", question_form())
    question = db.session.scalars(
        select(CategoryQuestion).where(CategoryQuestion.category_id == graffiti.id)
    ).one()
    path = f"/staff/admin/categories/{graffiti.id}/questions/{question.id}"
    assert "red | Red" in page(browser.get(path))
    response = post(
        browser, path, question_form(datatype="number", label="How many tags?", options="")
    )
    assert response.status_code == 303
    db.session.expire_all()
    question = db.session.get(CategoryQuestion, question.id)
    assert (question.datatype, question.label, question.options) == ("number", "How many tags?", [])
    question_id = question.id
    post(browser, f"{path}/delete")
    db.session.expire_all()
    assert db.session.get(CategoryQuestion, question_id) is None
    assert audit_actions()[-2:] == ["question.update", "question.delete"]


def test_every_admin_list_page_runs_a_fixed_number_of_queries(site, browser, count_queries):
    made = 0
    for path in ("/staff/admin/categories", "/staff/admin/departments", "/staff/admin/users"):
        with count_queries() as few:
            browser.get(path)
        for _ in range(5):
            made += 1
            make_user(
                f"extra{made}@example.org",
                role="staff",
                department=department("Parks and Recreation"),
            )
        make_report("pothole")
        with count_queries() as more:
            browser.get(path)
        assert more.count == few.count, path


def test_services_json_changes_with_the_catalogue(site, browser):
    resident = client_for(site)
    first = resident.get("/open311/v2/services.json")
    post(browser, "/staff/admin/categories/new", category_form())
    second = resident.get("/open311/v2/services.json")
    assert json.loads(first.data) != json.loads(second.data)


def test_a_question_post_without_the_options_field_keeps_the_stored_options(browser, graffiti):
    """A hand-made or partial POST is answered with a page, never a server error."""
    post(browser, f"/staff/admin/categories/{graffiti.id}/questions/new", question_form())
    question = db.session.scalars(
        select(CategoryQuestion).where(CategoryQuestion.category_id == graffiti.id)
    ).one()
    values = {k: v for k, v in question_form(label="Which colour?").items() if k != "options"}
    response = post(
        browser, f"/staff/admin/categories/{graffiti.id}/questions/{question.id}", values
    )
    assert response.status_code == 303
    db.session.expire_all()
    question = db.session.get(CategoryQuestion, question.id)
    assert question.label == "Which colour?"
    assert {"key": "red", "name": "Red"} in question.options
