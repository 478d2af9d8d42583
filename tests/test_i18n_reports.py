"""Reporting a problem in Spanish and Portuguese, the language switcher, and the scripts'
words: a resident who chose a language sees the whole flow, its errors and its scripts'
messages in it, and the choice follows them from page to page."""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Report, User
from tests.conftest import csrf_token_from
from tests.factories import CITY_HALL, make_report, make_user, sign_in_as
from tests.test_reporting import form_data, hidden, post

# What each page says in each language (the catalogue's own translations).
SAYS = {
    "es": {
        "form": "Enviar reporte",
        "short": "Describa el problema con al menos 10 caracteres",
        "where": "Díganos dónde está el problema",
        "summary": "Hay un problema",
        "sent": "Gracias: su reporte fue enviado",
        "tracking": "Número de seguimiento",
        "status": "Abierto",
        "nav": "Reportar un problema",
    },
    "pt": {
        "form": "Enviar relato",
        "short": "Descreva o problema com pelo menos 10 caracteres",
        "where": "Diga onde está o problema",
        "summary": "Há um problema",
        "sent": "Obrigado: seu relato foi enviado",
        "tracking": "Número de acompanhamento",
        "status": "Aberto",
        "nav": "Relatar um problema",
    },
}


def choose_language(client, code: str, next_path: str = "/"):
    return client.post(
        "/language",
        data={"csrf_token": csrf_token_from(client), "lang": code, "next": next_path},
    )


def html_lang(page: str) -> str:
    return re.search(r'<html lang="([^"]*)"', page).group(1)


def text(response) -> str:
    return response.get_data(as_text=True)


# ---- the report flow, end to end, in each language -------------------------------------


@pytest.mark.parametrize("language", ["es", "pt"])
def test_a_resident_reports_a_problem_entirely_in_their_language(client, city, language):
    says = SAYS[language]
    assert choose_language(client, language, "/reports/new").status_code == 303

    choose = text(client.get("/reports/new"))
    assert html_lang(choose) == language
    assert says["nav"] in choose

    form_page = text(client.get("/reports/new?category=pothole"))
    assert html_lang(form_page) == language and says["form"] in form_page
    assert "Send report" not in form_page and "Describe the problem" not in form_page

    data = {
        "csrf_token": hidden(form_page, "csrf_token"),
        "category": "pothole",
        "submission_key": hidden(form_page, "submission_key"),
        "description": "short",
        "answer_size": "medium",
    }
    refused = client.post("/reports/new", data=data)
    assert refused.status_code == 422
    page = text(refused)
    assert says["summary"] in page and says["short"] in page and says["where"] in page
    assert "<title>Error: " in page or "<title>Erro: " in page
    assert "There is a problem" not in page

    data |= {
        "description": "A deep pothole in the right lane by the bus stop.",
        "latitude": str(CITY_HALL[0]),
        "longitude": str(CITY_HALL[1]),
        "address": "45 Lyon Terrace",
    }
    sent = client.post("/reports/new", data=data)
    assert sent.status_code == 303
    receipt = text(client.get(sent.headers["Location"]))
    assert html_lang(receipt) == language and says["sent"] in receipt
    assert "Thank you" not in receipt and "What happens next" not in receipt

    report = db.session.scalars(select(Report)).one()
    assert report.locale == language  # later emails to this reporter are written in it
    tracking = text(client.get(f"/reports/{report.tracking_number}"))
    assert says["tracking"] in tracking and says["status"] in tracking
    assert "Tracking number" not in tracking and "Expected response" not in tracking


def test_a_report_made_in_english_remembers_english(client, city):
    post(client, form_data(client))
    assert db.session.scalars(select(Report.locale)).one() == "en"


def test_a_photo_refused_is_explained_in_the_residents_language(client, city):
    choose_language(client, "es")
    bad = (io.BytesIO(b"not a picture at all"), "hole.jpg")
    response = post(
        client, form_data(client, latitude=None, longitude=None, address=None, photos=[bad])
    )
    assert "hole.jpg no es una foto que podamos leer" in text(response)


def test_a_place_outside_the_city_is_refused_in_the_residents_language(client, city):
    choose_language(client, "pt")
    fairfield = form_data(client, latitude="41.1415", longitude="-73.2637", address=None)
    response = post(client, fairfield)
    page = text(response)
    assert "Parece que fica em Fairfield" in page
    assert "outside the City of Bridgeport" not in page


def test_category_search_finds_the_translated_name(client, city):
    page = text(client.get("/reports/new?q=bache", headers={"Accept-Language": "es"}))
    assert 'value="pothole"' in page
    assert "Nada coincide" not in page


def test_the_list_and_its_filters_speak_the_language(client, city):
    make_report(vote_count=2)
    page = text(client.get("/reports?date_from=soon", headers={"Accept-Language": "pt"}))
    assert "Relatos em Bridgeport" in page and "2 votos" in page
    assert "Relatados desde: digite uma data como 2026-11-25" in page
    assert "Newest first" not in page and "Mais recentes primeiro" in page


def test_error_pages_are_in_the_language_but_json_errors_stay_english(client, city):
    page = client.get("/nowhere", headers={"Accept-Language": "es"})
    assert page.status_code == 404 and "Página no encontrada" in text(page)
    api = client.get("/nowhere", headers={"Accept-Language": "es", "Accept": "application/json"})
    assert api.get_json()["error"] == "Page not found"


def test_geojson_data_stays_english_whatever_the_page_language(client, city):
    make_report()
    response = client.get("/reports.geojson", headers={"Accept-Language": "es"})
    [feature] = json.loads(text(response))["features"]
    assert feature["properties"]["status_label"] == "Open"


# ---- the language switcher ----------------------------------------------------------------


def test_the_choice_is_remembered_across_pages_and_beats_the_browser(client, city):
    response = choose_language(client, "pt", "/reports?status=open")
    assert response.status_code == 303
    assert response.headers["Location"] == "/reports?status=open"
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "pt"
    for path in ("/", "/reports", "/map", "/reports/new"):
        page = text(client.get(path, headers={"Accept-Language": "es"}))
        assert html_lang(page) == "pt", path
        assert 'aria-current="true">Português' in page, path
    choose_language(client, "en")
    assert html_lang(text(client.get("/", headers={"Accept-Language": "es"}))) == "en"


def test_the_page_language_follows_the_browser_until_someone_chooses(client, city):
    assert html_lang(text(client.get("/"))) == "en"
    assert html_lang(text(client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9"}))) == "es"
    assert html_lang(text(client.get("/", headers={"Accept-Language": "pt-BR"}))) == "pt"
    assert html_lang(text(client.get("/", headers={"Accept-Language": "fr"}))) == "en"


def test_a_signed_in_resident_keeps_the_choice_on_their_account(client, city):
    user = make_user()
    sign_in_as(client, user)
    choose_language(client, "es")
    assert db.session.scalar(select(User.locale).where(User.id == user.id)) == "es"
    # Another browser, signed in as them, without the cookie: the account's choice.
    other = client.application.test_client()
    sign_in_as(other, user)
    assert html_lang(text(other.get("/"))) == "es"


@pytest.mark.parametrize("code", ["fr", "", "EN", "es-MX", "../es"])
def test_an_unknown_language_is_refused(client, city, code):
    response = choose_language(client, code)
    assert response.status_code == 400
    assert client.get_cookie("lang") is None


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "",
    ],
)
def test_the_switcher_never_sends_anyone_to_another_site(client, city, target):
    response = choose_language(client, "es", target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_the_switcher_refuses_a_post_without_its_token(client, city):
    response = client.post("/language", data={"lang": "es", "next": "/"})
    assert response.status_code == 400
    assert client.get_cookie("lang") is None


# ---- the scripts' words ------------------------------------------------------------------


SCRIPT_RE = re.compile(r'<script src="(/i18n/(\w+)\.js\?v=(\w+))" defer></script>')


def test_spanish_pages_load_the_scripts_words_before_site_js(client, city):
    page = text(client.get("/reports/new?category=pothole", headers={"Accept-Language": "es"}))
    found = SCRIPT_RE.search(page)
    assert found and found.group(2) == "es"
    assert page.index(found.group(1)) < page.index("/static/js/site.")
    response = client.get(found.group(1))
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    body = text(response)
    assert body.startswith("window.bpt311Messages=")
    book = json.loads(body.removeprefix("window.bpt311Messages=").rstrip().rstrip(";"))
    assert book["lang"] == "es"
    messages = book["messages"]
    # A message of site.js, one of maps.js (a plural), one of pwa.js; nothing from the pages.
    assert messages["Finding your location…"] == "Buscando su ubicación…"
    assert messages["%(count)s report on the map"] == [
        "%(count)s reporte en el mapa",
        "%(count)s reportes en el mapa",
    ]
    assert "Notifications are on for this device." in messages
    assert "Send report" not in messages and "Report a problem in Bridgeport" not in messages
    assert len(response.data) < 20_000


def test_english_pages_need_no_script_words_and_unknown_languages_have_none(client, city):
    assert "/i18n/" not in text(client.get("/"))
    assert client.get("/i18n/en.js").status_code == 404
    assert client.get("/i18n/fr.js").status_code == 404


def test_an_outdated_script_version_is_served_but_not_kept_long(client, city):
    page = text(client.get("/", headers={"Accept-Language": "pt"}))
    url, language, version = SCRIPT_RE.search(page).groups()
    assert language == "pt"
    stale = client.get(f"/i18n/pt.js?v={'0' * len(version)}")
    assert stale.status_code == 200
    assert stale.headers["Cache-Control"] == "public, max-age=300"
    again = client.get(url, headers={"If-None-Match": client.get(url).headers["ETag"]})
    assert again.status_code == 304
