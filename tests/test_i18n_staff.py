"""Languages in the back office: admins translate categories and questions into Spanish and
Portuguese, residents read them in their language (English where nothing was translated),
and the staff pages themselves are in Spanish and Portuguese."""

import json
import re

import pytest
from sqlalchemy import select

from bpt311.config import DATA_DIR
from bpt311.extensions import db
from bpt311.models import AuditLog, Category, CategoryQuestion
from tests.conftest import HTMX, client_for, department
from tests.conftest import post_form as post
from tests.factories import make_report, make_user

SPANISH = {"Accept-Language": "es"}
PORTUGUESE = {"Accept-Language": "pt-BR,pt;q=0.9"}


def page(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def admin(city):
    return make_user("admin@bridgeport.example", role="admin", display_name="Ada Admin")


@pytest.fixture
def browser(city, admin):
    return client_for(city, admin)


@pytest.fixture
def graffiti(browser):
    """A category an admin added, with its Spanish and Portuguese names (no Portuguese
    group: that one stays English)."""
    response = post(
        browser,
        "/staff/admin/categories/new",
        {
            "name": "Graffiti on a bridge",
            "service_code": "bridge_graffiti",
            "group": "Streets",
            "description": "Paint or tags on a bridge or overpass.",
            "department_id": str(department("Roadway Maintenance").id),
            "sla_hours": "72",
            "active": "y",
            "name_es": "Grafiti en un puente",
            "group_es": "Calles",
            "description_es": "Pintura o firmas en un puente o paso elevado.",
            "name_pt": "Pichação numa ponte",
            "description_pt": "Tinta ou rabiscos numa ponte ou viaduto.",
        },
    )
    assert response.status_code == 303
    return db.session.scalars(
        select(Category).where(Category.service_code == "bridge_graffiti")
    ).one()


def question_form(**changes) -> dict:
    values = {
        "datatype": "singlevaluelist",
        "code": "colour",
        "label": "What colour is the paint?",
        "hint": "Roughly is fine",
        "required": "y",
        "options": "red | Red\nblue | Blue\ngreen | Green",
        "label_es": "¿De qué color es la pintura?",
        "hint_es": "Más o menos está bien",
        "options_es": "red | Rojo\nblue | Azul",  # green left out: English
        "label_pt": "De que cor é a tinta?",
        "options_pt": "red | Vermelho\nblue | Azul\ngreen | Verde",  # no hint: English
    }
    values.update(changes)
    return values


def test_an_admins_translations_reach_the_report_form_in_spanish_and_portuguese(
    city, browser, graffiti
):
    response = post(
        browser, f"/staff/admin/categories/{graffiti.id}/questions/new", question_form()
    )
    assert response.status_code == 303
    resident = client_for(city)

    spanish = page(resident.get("/reports/new?category=bridge_graffiti", headers=SPANISH))
    assert "grafiti en un puente" in spanish.lower()
    assert "¿De qué color es la pintura?" in spanish and "Más o menos está bien" in spanish
    assert ">Rojo</label>" in spanish and ">Azul</label>" in spanish
    assert ">Green</label>" in spanish  # no Spanish given: the English
    assert "What colour is the paint?" not in spanish

    portuguese = page(resident.get("/reports/new?category=bridge_graffiti", headers=PORTUGUESE))
    assert "pichação numa ponte" in portuguese.lower()
    assert "De que cor é a tinta?" in portuguese and ">Verde</label>" in portuguese
    assert "Roughly is fine" in portuguese  # no Portuguese hint: the English

    english = page(resident.get("/reports/new?category=bridge_graffiti"))
    assert "What colour is the paint?" in english and ">Red</label>" in english
    assert "Rojo" not in english and "graffiti on a bridge" in english.lower()

    # The list of categories: the Spanish name and group, and in Portuguese the English group.
    choices = page(resident.get("/reports/new", headers=SPANISH))
    assert "Grafiti en un puente" in choices and "Calles" in choices
    choices = page(resident.get("/reports/new", headers=PORTUGUESE))
    assert "Pichação numa ponte" in choices and "Streets" in choices


def test_translations_are_audited_and_the_form_shows_them_again(browser, graffiti):
    row = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert row.action == "category.create"
    assert row.detail["changes"]["translations"][1]["es"]["name"] == "Grafiti en un puente"
    assert "group" not in row.detail["changes"]["translations"][1]["pt"]

    form = page(browser.get(f"/staff/admin/categories/{graffiti.id}"))
    assert 'value="Grafiti en un puente"' in form and 'lang="es"' in form

    response = post(
        browser,
        f"/staff/admin/categories/{graffiti.id}",
        {
            "name": "Graffiti on a bridge",
            "service_code": "bridge_graffiti",
            "group": "Streets",
            "department_id": str(graffiti.department_id),
            "sla_hours": "72",
            "active": "y",
            "name_es": "Grafiti en puentes",
            "group_es": "",
            "description_es": "",
            "name_pt": "",  # emptied: back to English
            "group_pt": "",
            "description_pt": "",
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    row = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert row.action == "category.update"
    before, after = row.detail["changes"]["translations"]
    assert before["es"]["name"] == "Grafiti en un puente"
    assert after == {"es": {"name": "Grafiti en puentes"}}
    assert db.session.get(Category, graffiti.id).translations == after

    post(browser, f"/staff/admin/categories/{graffiti.id}/questions/new", question_form())
    question = db.session.scalars(
        select(CategoryQuestion).where(CategoryQuestion.category_id == graffiti.id)
    ).one()
    row = db.session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert row.action == "question.create"
    assert row.detail["changes"]["translations"][1]["es"]["options"] == {
        "red": "Rojo",
        "blue": "Azul",
    }
    form = page(browser.get(f"/staff/admin/categories/{graffiti.id}/questions/{question.id}"))
    assert "red | Rojo\nblue | Azul" in form


def test_a_translated_option_with_an_unknown_key_is_refused_in_the_admins_language(
    browser, graffiti
):
    response = post(
        browser,
        f"/staff/admin/categories/{graffiti.id}/questions/new",
        question_form(options_es="purple | Morado"),
        headers=SPANISH,
    )
    assert response.status_code == 422
    html = page(response)
    assert "Ninguna opción tiene la clave purple" in html
    assert 'value="¿De qué color es la pintura?"' in html  # what was typed stays
    db.session.expire_all()
    assert not db.session.get(Category, graffiti.id).questions


def test_the_preview_shows_the_questions_in_the_language_chosen(browser, graffiti):
    path = f"/staff/admin/categories/{graffiti.id}/questions/new"
    spanish = page(post(browser, path, question_form(preview="1", preview_language="es"), HTMX))
    assert 'lang="es"' in spanish
    assert "<legend>¿De qué color es la pintura?" in spanish and ">Rojo</label>" in spanish
    assert "How residents will see it" in spanish  # the admin's own page stays English

    english = page(post(browser, path, question_form(preview="1"), HTMX))
    assert "<legend>What colour is the paint?" in english and ">Red</label>" in english

    # Without JavaScript: the whole page, with the language kept in its box.
    whole = page(post(browser, path, question_form(preview="1", preview_language="pt")))
    assert "<html" in whole and "De que cor é a tinta?" in whole
    assert re.search(r'<option selected value="pt">|<option value="pt" selected>', whole)


def test_the_staff_queue_and_inspector_are_in_portuguese(city):
    roads = department("Roadway Maintenance")
    clerk = make_user("clerk@bridgeport.example", role="staff", department=roads)
    report = make_report("pothole")
    browser = client_for(city, clerk)
    queue = page(browser.get("/staff", headers=PORTUGUESE))
    assert '<html lang="pt"' in queue
    assert "Buraco na rua" in queue  # the seeded category's Portuguese name
    assert "Fila" in queue and "Queue" not in queue
    inspector = page(browser.get(f"/staff/reports/{report.tracking_number}", headers=PORTUGUESE))
    assert "Nota para o público" in inspector and "Note for the public" not in inspector


def test_a_staff_flash_message_is_in_spanish(city):
    clerk = make_user(
        "clerk@bridgeport.example", role="staff", department=department("Roadway Maintenance")
    )
    browser = client_for(city, clerk)
    response = post(
        browser, "/staff/filters", {"name": "Baches", "query": "status=open"}, headers=SPANISH
    )
    assert response.status_code == 303
    queue = page(browser.get(response.headers["Location"], headers=SPANISH))
    assert "Se guardó el filtro “Baches”." in queue


def test_every_seeded_category_and_question_is_translated_into_spanish_and_portuguese(city):
    with open(DATA_DIR / "city_services.json", encoding="utf-8") as fh:
        catalogue = json.load(fh)
    categories = db.session.scalars(select(Category)).all()
    assert len(categories) == len(catalogue["categories"])
    for category in categories:
        for language in ("es", "pt"):
            words = category.translations[language]
            assert words["name"] and words["group"] and words["description"], category.name
            assert words["name"] != category.name, category.name
            for question in category.questions:
                asked = question.translations[language]
                assert asked["label"] and asked["label"] != question.label, question.code
                assert bool(asked.get("hint")) == bool(question.hint), question.code
                keys = {option["key"] for option in question.options}
                assert set(asked.get("options", {})) == keys, question.code
    resident = client_for(city)
    spanish = page(resident.get("/reports/new?category=pothole", headers=SPANISH))
    assert "¿Qué tan grande es?" in spanish and "Más pequeño que un plato" in spanish
    portuguese = page(resident.get("/reports/new?category=missed_trash", headers=PORTUGUESE))
    assert "Qual é o seu dia de coleta?" in portuguese and "Segunda-feira" in portuguese


def test_department_names_are_translated_by_admins_and_seeded(city, browser):
    from bpt311.models import Department

    for seeded in db.session.scalars(select(Department)):
        assert seeded.translations["es"]["name"] and seeded.translations["pt"]["name"]
    roads = department("Roadway Maintenance")
    form = page(browser.get(f"/staff/admin/departments/{roads.id}"))
    assert 'value="Mantenimiento de Calles"' in form and 'lang="es"' in form
    response = post(
        browser,
        f"/staff/admin/departments/{roads.id}",
        {
            "name": "Roadway Maintenance",
            "email": "roads@bridgeport.example",
            "name_es": "Calles y Baches",
            "name_pt": "",  # empty: Portuguese readers see the English
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert department("Roadway Maintenance").translations == {"es": {"name": "Calles y Baches"}}
    audit = db.session.scalars(
        select(AuditLog).where(AuditLog.action == "department.update")
    ).all()[-1]
    assert "translations" in audit.detail["changes"]
    resident = client_for(city)
    spanish = page(resident.get("/reports/new?category=pothole", headers=SPANISH))
    assert "Calles y Baches" in spanish
    portuguese = page(resident.get("/reports/new?category=pothole", headers=PORTUGUESE))
    assert "Roadway Maintenance" in portuguese
    report = make_report("pothole")
    assert "Calles y Baches" in page(
        resident.get(f"/reports/{report.tracking_number}", headers=SPANISH)
    )
