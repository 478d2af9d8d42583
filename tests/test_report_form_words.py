"""The report form's words without JavaScript (#22 "No dead ends" items 4-6): a heading that
is a real sentence for every category and language, a Send button that says photos take a
while, groups with distinct names, and nothing marked invalid or optional that isn't."""

import html
import json
import re
from pathlib import Path

import pytest

from bpt311.extensions import db
from bpt311.models import Category
from tests.conftest import client_for
from tests.conftest import post_form as admin_post
from tests.factories import make_user
from tests.test_admin_catalogue import category_form
from tests.test_reporting import form_data, jpeg, post

DATA = Path(__file__).resolve().parents[1] / "bpt311" / "data"
CATALOGUE = json.loads((DATA / "city_services.json").read_text(encoding="utf-8"))
TRANSLATED = json.loads((DATA / "city_services.translations.json").read_text(encoding="utf-8"))


def heading(page: str) -> str:
    return html.unescape(re.search(r"<h1>(.*?)</h1>", page, re.S).group(1).strip())


def title(page: str) -> str:
    return html.unescape(re.search(r"<title>(.*?) – ", page, re.S).group(1).strip())


@pytest.mark.parametrize("language", ["en", "es", "pt"])
def test_every_category_form_has_a_heading_that_is_a_sentence(client, city, language):
    for item in CATALOGUE["categories"]:
        code = item["service_code"]
        expected = (
            item["form_title"]
            if language == "en"
            else TRANSLATED["categories"][code][language]["form_title"]
        )
        page = client.get(
            f"/reports/new?category={code}", headers={"Accept-Language": language}
        ).get_data(as_text=True)
        assert heading(page) == expected and title(page) == expected, code
        # Never a name forced into "Report a …": "Report a rodents", "Report a graffiti".
        forced = "Report a " + item["name"].lower()
        if language == "en" and expected != forced:
            assert forced not in page, code


def test_every_seeded_category_has_a_form_title_in_every_language(city):
    for category in db.session.query(Category):
        assert category.form_title, category.service_code
        for language in ("es", "pt"):
            assert category.translations[language]["form_title"], category.service_code


@pytest.fixture
def admin_browser(site):
    return client_for(site, make_user("admin@bridgeport.example", role="admin"))


def test_admins_write_the_heading_and_its_translations_and_an_empty_one_falls_back(
    site, admin_browser
):
    response = admin_post(
        admin_browser,
        "/staff/admin/categories/new",
        category_form(form_title="Report paint on a bridge", form_title_es="Reportar pintura"),
    )
    assert response.status_code == 303
    resident = client_for(site)
    page = resident.get("/reports/new?category=bridge_graffiti").get_data(as_text=True)
    assert heading(page) == "Report paint on a bridge"
    spanish = resident.get(
        "/reports/new?category=bridge_graffiti", headers={"Accept-Language": "es"}
    ).get_data(as_text=True)
    assert heading(spanish) == "Reportar pintura"
    # No Portuguese heading: a sentence in Portuguese around the (English) name, never the
    # English heading on a Portuguese page.
    portuguese = resident.get(
        "/reports/new?category=bridge_graffiti", headers={"Accept-Language": "pt"}
    ).get_data(as_text=True)
    assert heading(portuguese) == "Relatar um problema: Graffiti on a bridge"

    category = db.session.query(Category).filter_by(service_code="bridge_graffiti").one()
    form_page = admin_browser.get(f"/staff/admin/categories/{category.id}").get_data(as_text=True)
    assert 'value="Report paint on a bridge"' in form_page
    assert 'value="Reportar pintura"' in form_page
    response = admin_post(
        admin_browser, f"/staff/admin/categories/{category.id}", category_form(form_title="")
    )
    assert response.status_code == 303
    page = resident.get("/reports/new?category=bridge_graffiti").get_data(as_text=True)
    assert heading(page) == "Report a problem: Graffiti on a bridge"


def test_without_javascript_send_says_photos_may_take_a_minute(client, city):
    page = client.get("/reports/new?category=pothole").get_data(as_text=True)
    assert re.search(r'<button type="submit"[^>]*>Send report \(photos may take a minute\)<', page)


def test_required_questions_are_not_invalid_on_arrival_and_groups_have_distinct_names(client, city):
    page = client.get("/reports/new?category=graffiti").get_data(as_text=True)
    form = page[page.index('<form id="report-form"') :]
    # Browsers expose an unticked `required` radio group as "invalid entry" on arrival.
    assert not re.search(r"<input[^>]*\srequired[\s>]", form)
    assert not re.search(r"<textarea[^>]*\srequired[\s>]", form)
    assert "aria-invalid" not in form
    assert re.search(r'<textarea[^>]*aria-required="true"[^>]*id="description"', form)
    legends = [
        re.sub(r"<[^>]+>", "", legend).strip()
        for legend in re.findall(r"<legend>(.*?)</legend>", form, re.S)
    ]
    assert "Where is it?" in legends and "Location of the problem" in legends
    assert len(legends) == len(set(legends)), legends


def test_errors_still_mark_the_fields_invalid(client, city):
    data = form_data(client, category="graffiti", description="")
    page = post(client, data).get_data(as_text=True)
    assert re.search(r'<textarea[^>]*aria-invalid="true"[^>]*id="description"', page)


def test_the_place_to_choose_is_not_marked_optional(client, city):
    spot = (41.18615, -73.19542)
    data = form_data(client, latitude="", longitude="", address="", photos=[jpeg(gps=spot)])
    page = post(client, data).get_data(as_text=True)
    fieldset = re.search(r'<fieldset[^>]*id="location_choice".*?</fieldset>', page, re.S).group(0)
    assert "Where your photo pothole.jpg was taken" in fieldset
    assert "(optional)" not in fieldset


def test_the_language_switcher_is_a_labelled_form_not_a_group(client, city):
    page = client.get("/").get_data(as_text=True)
    switcher = re.search(r'<form class="lang-switch"[^>]*>', page).group(0)
    assert 'role="group"' not in switcher and 'aria-label="Language"' in switcher
