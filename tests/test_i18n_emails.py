"""Emails in their recipient's language, and the kiosk and figures pages in Spanish and
Portuguese: the language follows the person, not whoever happened to cause the email."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Follow, Report
from bpt311.watch.digest import send_digests
from bpt311.watchers.events import announce
from tests.factories import make_report, make_user
from tests.test_kiosk import (
    hidden,
    kiosk,  # noqa: F401  (the "kiosk" fixture)
    kiosk_report,
)
from tests.test_staff import act
from tests.test_watch_support import (
    circle_area,
    client_for,
    outbox_to,
    site_fixture,  # noqa: F401  (the "site" fixture)
    smtp_fixture,  # noqa: F401  (the "smtp" fixture)
)

GUEST = "lucia@example.org"


def speaking(client, language: str):
    """A test client whose browser asks for ``language``."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    return client


@pytest.fixture
def city_kiosk(kiosk):  # noqa: F811
    app = kiosk()
    with app.app_context():
        yield app


# ---- emails -------------------------------------------------------------------------------


def test_force_locale_inside_a_request_renders_its_language_and_then_the_requests_again(app):
    """An email in its reader's language is rendered in the middle of someone else's page:
    the templates' translations follow ``force_locale`` and come back after it."""
    from flask import render_template_string

    from bpt311.i18n import force_locale

    def status_word() -> str:
        return render_template_string("{{ _('Status') }}")

    with app.test_request_context("/reports", headers={"Accept-Language": "es"}):
        assert status_word() == "Estado"
        with force_locale("pt"):
            assert status_word() == "Situação"
            with force_locale("en"):
                assert status_word() == "Status"
            assert status_word() == "Situação"
        assert status_word() == "Estado"


def test_every_force_locale_is_the_one_that_sets_the_templates_translations_aside():
    """Flask-Babel's own ``force_locale`` would leave the templates' kept translations in
    the request's language: bpt311 uses only ``i18n.force_locale``."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parent.parent
    direct = re.compile(r"from flask_babel import[^\n]*\bforce_locale\b|flask_babel\.force_locale")
    offenders = [
        str(path.relative_to(root))
        for folder in ("bpt311", "tests")
        for path in (root / folder).rglob("*.py")
        if path.name != "i18n.py"
        and path != pathlib.Path(__file__).resolve()
        and direct.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_a_report_made_in_spanish_gets_its_receipt_in_spanish(city_kiosk):
    client = speaking(city_kiosk.test_client(), "es")
    assert kiosk_report(client, contact_email=GUEST).status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert report.locale == "es"
    [row] = outbox_to(GUEST)
    assert row.subject.startswith(f"Su reporte {report.tracking_number}: ")
    assert "Gracias por su reporte a Bridgeport 311." in row.body_text
    assert "Número de seguimiento: " + report.tracking_number in row.body_text
    assert "Ciudad de Bridgeport, 45 Lyon Terrace" in row.body_text
    assert '<html lang="es">' in row.body_html
    assert "Seguir su reporte" in row.body_html
    assert "Thank you" not in row.body_text and "Tracking number" not in row.body_html


def test_the_same_receipt_in_english_is_unchanged(city_kiosk):
    client = city_kiosk.test_client()
    assert kiosk_report(client, contact_email=GUEST).status_code == 303
    [row] = outbox_to(GUEST)
    assert "Thank you for your report to Bridgeport 311." in row.body_text
    assert '<html lang="en">' in row.body_html


def test_a_status_change_reaches_each_follower_in_their_own_language(site):
    from tests.conftest import department

    roads = department("Roadway Maintenance")
    clerk = make_user("clerk@bridgeport.example", role="staff", department=roads)
    report = make_report()
    ana = make_user("ana@example.org", locale="pt")
    bob = make_user("bob@example.org")  # never chose: the city's language
    db.session.add_all(
        [Follow(report_id=report.id, user_id=ana.id), Follow(report_id=report.id, user_id=bob.id)]
    )
    db.session.commit()
    staff = client_for(site, clerk)  # the clerk works in English
    response = act(staff, report, "status", {"action": "acknowledge", "public_note": "On it."})
    assert response.status_code in (200, 303)
    [to_ana] = outbox_to("ana@example.org")
    assert to_ana.subject == f"{report.tracking_number}: Roadway Maintenance o recebeu"
    assert "Situação atual: " in to_ana.body_text
    assert "Ver o relato" in to_ana.body_html
    assert "Status now" not in to_ana.body_text
    [to_bob] = outbox_to("bob@example.org")
    assert to_bob.subject == f"{report.tracking_number}: Roadway Maintenance acknowledged it"
    assert "Status now: " in to_bob.body_text


def test_a_watch_digest_is_written_in_its_readers_language_by_the_worker(site):
    maria = make_user("maria@example.org", locale="es")
    circle_area(maria, name="Mi cuadra", delivery="digest")
    report = make_report()
    announce(report, "new")
    db.session.commit()
    assert send_digests(datetime.now(UTC) + timedelta(minutes=1)) == 1  # no request
    [row] = outbox_to("maria@example.org")
    assert row.subject == "Su resumen de Bridgeport 311: 1 novedad en sus zonas de avisos"
    assert "Lo que pasó en sus zonas de avisos" in row.body_text
    assert "Dejar de recibir todos los resúmenes diarios" in row.body_html
    assert report.tracking_number in row.body_text
    assert "What happened" not in row.body_text


def test_a_watch_event_email_follows_the_owners_language(site):
    joao = make_user("joao@example.org", locale="pt")
    circle_area(joao, name="Minha rua", delivery="email")
    make_report()  # factories commit without announcing
    announce(db.session.scalars(select(Report)).one(), "new")
    db.session.commit()
    [row] = outbox_to("joao@example.org")
    assert row.subject.startswith("Minha rua: ")
    assert "Na sua área de alertas “Minha rua”" in row.body_text
    assert "Parar de receber e-mails de “Minha rua”" in row.body_html


def test_a_lazy_subject_is_escaped_in_the_html_body(site):
    """A name with markup in a headline is text in the email, never HTML."""
    from flask_babel import lazy_gettext

    from bpt311.notify import enqueue_email

    report = make_report()
    enqueue_email(
        "x@example.org",
        "report_update",
        "subject",
        locale="es",
        report=report,
        headline=lazy_gettext("%(name)s commented", name="<b>Eve</b>"),
        note="",
        report_url="http://bpt311.test/",
        unsubscribe_url="",
        settings_url="",
    )
    db.session.commit()
    [row] = outbox_to("x@example.org")
    assert "&lt;b&gt;Eve&lt;/b&gt;" in row.body_html and "<b>Eve</b>" not in row.body_html


# ---- the kiosk ----------------------------------------------------------------------------


def test_the_kiosk_start_screen_speaks_the_visitors_language(city_kiosk):
    page = speaking(city_kiosk.test_client(), "es").get("/kiosk/").get_data(as_text=True)
    assert '<html lang="es">' in page
    assert "Reportar un problema" in page and "Buscar un número de seguimiento" in page
    assert "¿Emergencia o peligro de muerte? Llame al 911." in page
    assert "Report a problem" not in page
    # the switcher is there, in each language's own name
    assert re.search(r'<button type="submit" name="lang" value="pt" lang="pt"[^>]*>Português', page)


def test_the_kiosk_receipt_screen_and_its_messages_are_in_spanish(city_kiosk):
    client = speaking(city_kiosk.test_client(), "es")
    response = kiosk_report(client)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<h1>Gracias" in page
    assert "Su número de seguimiento es" in page
    assert "Terminar y borrar la pantalla" in page
    number = re.search(r"BPT-\d+", page).group(0)
    sent = client.post(
        f"/kiosk/reports/{number}/email",
        data={"csrf_token": hidden(page, "csrf_token"), "email": GUEST},
    )
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Comprobante enviado por correo." in page
    [row] = outbox_to(GUEST)
    assert "Gracias por su reporte a Bridgeport 311." in row.body_text


def test_the_kiosk_form_errors_are_in_portuguese(city_kiosk):
    client = speaking(city_kiosk.test_client(), "pt")
    page = client.get("/kiosk/lookup?number=BPT-999999").get_data(as_text=True)
    assert "Nenhum relato tem o número “BPT-999999”" in page


def test_finishing_at_the_kiosk_forgets_the_language_chosen(city_kiosk):
    client = city_kiosk.test_client()
    start = client.get("/kiosk/").get_data(as_text=True)
    chosen = client.post(
        "/language",
        data={"csrf_token": hidden(start, "csrf_token"), "lang": "pt", "next": "/kiosk/"},
    )
    assert chosen.status_code == 303
    assert "Relatar um problema" in client.get("/kiosk/").get_data(as_text=True)
    page = client.get("/kiosk/").get_data(as_text=True)
    reset = client.post("/kiosk/reset", data={"csrf_token": hidden(page, "csrf_token")})
    assert reset.status_code == 303
    assert any(header.startswith("lang=;") for header in reset.headers.getlist("Set-Cookie"))
    after = client.get("/kiosk/").get_data(as_text=True)
    assert "Report a problem" in after and '<html lang="en">' in after


# ---- figures ------------------------------------------------------------------------------


def test_the_figures_page_in_portuguese_writes_numbers_and_dates_its_way(site):
    monday = datetime(2026, 2, 2, 15, 0, tzinfo=UTC)
    for _ in range(3):
        make_report(
            created_at=monday,
            status="acknowledged",
            acknowledged_at=monday + timedelta(minutes=90),
        )
    client = speaking(site.test_client(), "pt")
    page = client.get("/stats?date_from=2026-01-05&date_to=2026-03-01").get_data(as_text=True)
    assert "Como a prefeitura está indo" in page
    assert "De 5 de janeiro de 2026 a 1 de março de 2026" in page
    assert "<strong>1,5 horas</strong>" in page  # the median time to acknowledge
    assert "recebidos" in page and "Baixar os números semanais (CSV)" in page
    english = site.test_client().get("/stats?date_from=2026-01-05&date_to=2026-03-01")
    assert "<strong>1.5 hours</strong>" in english.get_data(as_text=True)
    # the download stays data: English headers whatever the page's language
    csv = client.get("/stats/weeks.csv?date_from=2026-01-05&date_to=2026-03-01")
    assert csv.get_data(as_text=True).startswith("week_starting,received,closed")
