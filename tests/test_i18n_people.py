"""Accounts, community, watch areas and privacy in Spanish and Portuguese: form errors,
flashes, the vote announcement with its plural, an area's page and feed, the language
an account keeps."""

from __future__ import annotations

from html import unescape

from sqlalchemy import select

from bpt311.accounts.service import hash_password
from bpt311.community import comments
from bpt311.extensions import db
from bpt311.models import User
from tests.conftest import HTMX, client_for, post_form
from tests.factories import make_report, make_user
from tests.test_watch_support import polygon_area

ES = {"Accept-Language": "es"}
PT = {"Accept-Language": "pt-BR,pt;q=0.9"}
PASSWORD = "correct horse battery"


def text(response) -> str:
    return unescape(response.get_data(as_text=True))


def test_sign_in_errors_are_in_the_visitors_language(site):
    make_user("maria@example.org", password_hash=hash_password(PASSWORD))
    client = site.test_client()
    empty = post_form(client, "/sign-in", {"email": "", "password": ""}, headers=ES)
    assert empty.status_code == 422
    assert "Escriba su correo electrónico" in text(empty)
    assert "Enter your email address" not in text(empty)
    wrong = post_form(
        client, "/sign-in", {"email": "maria@example.org", "password": "not it at all"}, headers=PT
    )
    assert wrong.status_code == 422
    assert "O e-mail ou a senha não estão certos" in text(wrong)
    assert "<h1>Entrar</h1>" in text(wrong)


def test_registration_errors_are_in_spanish_and_portuguese(site):
    client = site.test_client()
    fields = {"email": "ana@example.org", "display_name": "Ana"}
    mismatch = post_form(
        client,
        "/register",
        {**fields, "password": PASSWORD, "confirm": "something else entirely"},
        headers=ES,
    )
    assert mismatch.status_code == 422
    assert "Las dos contraseñas no coinciden" in text(mismatch)
    common = post_form(
        client,
        "/register",
        {**fields, "password": "password123", "confirm": "password123"},
        headers=PT,
    )
    assert common.status_code == 422
    assert "Esta é uma das senhas mais comuns" in text(common)
    assert "Criar uma conta" in text(common)


def test_registering_keeps_the_language_the_person_used(site):
    client = site.test_client()
    response = post_form(
        client,
        "/register",
        {
            "email": "joao@example.org",
            "display_name": "João",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
        headers=PT,
    )
    assert response.status_code == 303
    user = db.session.scalars(select(User).where(User.email == "joao@example.org")).one()
    assert user.locale == "pt"
    check = client.get("/register/check-email", headers=PT)
    assert "Verifique seu e-mail" in text(check)


def test_the_settings_page_offers_the_language_and_saves_it(site):
    user = make_user("lia@example.org")
    client = client_for(site, user)
    page = text(client.get("/me/settings", headers=ES))
    assert '<label for="language-choice">Idioma de las páginas y los correos</label>' in page
    assert '<option value="pt" lang="pt">Português</option>' in page
    saved = post_form(client, "/language", {"lang": "pt", "next": "/me/settings"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/me/settings")
    assert "lang=pt" in saved.headers["Set-Cookie"]
    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "pt"
    # The account's choice wins over the browser's language from now on.
    assert "Suas configurações" in text(client.get("/me/settings", headers=ES))


def test_a_flash_message_is_translated(site):
    user = make_user("rosa@example.org")
    client = client_for(site, user)
    response = post_form(client, "/sign-out", headers=ES, follow_redirects=True)
    assert "Cerró sesión." in text(response)


def test_the_vote_announcement_has_its_plural_in_spanish_and_portuguese(site):
    report = make_report()
    first, second = make_user("uno@example.org"), make_user("dos@example.org")
    path = f"/reports/{report.tracking_number}/vote"
    one = post_form(client_for(site, first), path, {"wanted": "1"}, headers={**HTMX, **ES})
    assert 'data-announce="Voto añadido. 1 persona quiere que se arregle."' in one.get_data(
        as_text=True
    )
    assert "<strong>1</strong> persona quiere que se arregle" in text(one)
    two = post_form(client_for(site, second), path, {"wanted": "1"}, headers={**HTMX, **PT})
    assert 'data-announce="Voto adicionado. 2 pessoas querem que seja consertado."' in (
        two.get_data(as_text=True)
    )
    back = post_form(client_for(site, second), path, {"wanted": "0"}, headers={**HTMX, **ES})
    assert "Voto retirado. 1 persona quiere que se arregle." in text(back)


def test_a_watch_area_page_and_its_feed_are_in_portuguese(site):
    owner = make_user("dono@example.org")
    area = polygon_area(owner, name="Nosso quarteirão", is_public=True)
    report = make_report()
    comments.add_comment(report, make_user("vizinho@example.org"), "Ainda está lá.")
    page = text(site.test_client().get(f"/watch/{area.id}", headers=PT))
    assert "Pública: qualquer pessoa pode vê-la e segui-la." in page
    assert "Últimos relatos aqui" in page
    assert "Uma forma desenhada no mapa, com cerca de" in page
    assert "Seguir esta área por feed (Atom)" in page
    feed = site.test_client().get(f"/watch/{area.id}/feed.atom", headers=PT)
    body = text(feed)
    assert "<title>Nosso quarteirão (área de alertas) – Bridgeport 311</title>" in body
    assert 'xml:lang="pt"' in body
    assert "Relatos e suas novidades: Uma forma desenhada no mapa" in body
    assert "<title>Comentário: " in body
    assert "Accept-Language" in feed.headers["Vary"]
    english = text(site.test_client().get(f"/watch/{area.id}/feed.atom"))
    assert "<title>Nosso quarteirão (watch area) – Bridgeport 311</title>" in english


def test_the_privacy_page_is_in_spanish(site):
    page = text(site.test_client().get("/privacy", headers=ES))
    assert "<h1>Privacidad</h1>" in page
    assert "Se borran 365 días después de cerrarse el reporte" in page
    assert "What we keep and who sees it" not in page
