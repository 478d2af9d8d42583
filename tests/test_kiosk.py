"""Kiosk mode on the server: the real report flow, receipts sent once, and nothing kept."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Outbox, Report
from tests.conftest import HTMX, free_port
from tests.factories import CITY_HALL, make_report

NAME, EMAIL, PHONE = "Ana Souza", "ana.souza@example.org", "(203) 555-0199"


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', page
    )
    return match.group(1) if match else ""


def kiosk_report(client, **fields):
    """Fill in the kiosk's pothole form as a visitor would, and send it."""
    page = client.get("/kiosk/report?category=pothole").get_data(as_text=True)
    data = {
        "csrf_token": hidden(page, "csrf_token"),
        "category": "pothole",
        "submission_key": hidden(page, "submission_key"),
        "description": "A deep pothole in front of the library steps.",
        "latitude": str(CITY_HALL[0]),
        "longitude": str(CITY_HALL[1]),
        "answer_size": "large",
        **fields,
    }
    return client.post("/kiosk/report", data=data)


def token_of(client, path: str) -> str:
    return hidden(client.get(path).get_data(as_text=True), "csrf_token")


def session_text(client) -> str:
    with client.session_transaction() as session:
        return json.dumps(dict(session))


class Gateway:
    """An SMS gateway on loopback that records what it is asked to send."""

    def __init__(self):
        self.messages: list[dict] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                received.append(
                    {
                        "content_type": self.headers.get("Content-Type"),
                        **json.loads(self.rfile.read(length)),
                    }
                )
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/messages"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def kiosk(make_app):
    def build(**settings):
        app = make_app(RATELIMIT_ENABLED=False, **settings)
        with app.app_context():
            from bpt311.seed import load_city

            if not db.session.scalar(select(Report.id).limit(1)):
                load_city()
        return app

    return build


@pytest.fixture
def city_kiosk(kiosk):
    app = kiosk()
    with app.app_context():
        yield app


KIOSK_PAGES = ["/kiosk/", "/kiosk/report", "/kiosk/report?category=pothole", "/kiosk/lookup"]


@pytest.mark.parametrize("path", [*KIOSK_PAGES, "/kiosk/nearby"])
def test_kiosk_pages_are_never_stored_and_have_no_sign_in(city_kiosk, path):
    response = city_kiosk.test_client().get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert 'data-kiosk="1"' in page and 'hx-history="false"' in page
    assert '"historyCacheSize":0' in page
    assert "Sign in" not in page and "/sign-in" not in page and "remember" not in page.lower()


def kiosk_pages_with_a_receipt(client) -> dict[str, str]:
    """Every kiosk screen a visitor sees, the receipt of a report just sent included."""
    pages = {path: client.get(path).get_data(as_text=True) for path in KIOSK_PAGES}
    sent = kiosk_report(client)
    pages["receipt"] = client.get(sent.headers["Location"]).get_data(as_text=True)
    return pages


def test_kiosk_pages_offer_no_install_and_register_no_service_worker(city_kiosk):
    # A shared terminal is no one's phone: no "install this app" prompt, no worker.
    for path, page in kiosk_pages_with_a_receipt(city_kiosk.test_client()).items():
        assert 'rel="manifest"' not in page, path
        assert "manifest.webmanifest" not in page, path
        assert "js/pwa." not in page and "sw.js" not in page, path
        assert "js/kiosk." in page, path
    assert 'rel="manifest"' in city_kiosk.test_client().get("/").get_data(as_text=True)


def test_every_kiosk_form_has_autocomplete_off(city_kiosk):
    # Chromium puts back what was ticked or typed when Back returns to a page, unless the
    # form says autocomplete="off": after a wipe, Back must show the next visitor nothing.
    for path, page in kiosk_pages_with_a_receipt(city_kiosk.test_client()).items():
        tags = re.findall(r"<form\b[^>]*>", page)
        assert tags, path
        for tag in tags:
            assert 'autocomplete="off"' in tag, (path, tag)


def test_the_kiosk_form_never_offers_a_previous_visitors_details(city_kiosk):
    page = city_kiosk.test_client().get("/kiosk/report?category=pothole").get_data(as_text=True)
    for name in ("contact_name", "contact_email", "contact_phone", "address"):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert 'autocomplete="off"' in tag
    assert 'inputmode="email"' in page and 'inputmode="tel"' in page
    assert 'type="file"' not in page  # no photos on a shared screen


def test_reset_clears_the_session_and_the_start_screen_gets_a_fresh_token(city_kiosk):
    client = city_kiosk.test_client()
    old_token = token_of(client, "/kiosk/")
    with client.session_transaction() as session:
        session["kiosk_report"] = 1
        session["kiosk_sent"] = ["email"]
    response = client.get("/kiosk/reset")
    assert response.status_code == 303 and response.headers["Location"].endswith("/kiosk/")
    assert response.headers["Cache-Control"] == "no-store"
    assert session_text(client) == "{}"
    new_token = token_of(client, "/kiosk/report?category=pothole")
    assert new_token and new_token != old_token
    # The old page's token is dead, the fresh one works: a POST reset with it goes through.
    assert client.post("/kiosk/reset", data={"csrf_token": old_token}).status_code == 400
    assert client.post("/kiosk/reset", data={"csrf_token": new_token}).status_code == 303


def test_reset_signs_out_anyone_left_signed_in(city_kiosk):
    from tests.factories import make_user, sign_in_as

    client = city_kiosk.test_client()
    sign_in_as(client, make_user())
    client.get("/kiosk/reset")
    assert "_user_id" not in session_text(client)
    assert "Sign in" in client.get("/").get_data(as_text=True)


def test_kiosk_setting_sends_the_home_page_to_the_start_screen(kiosk):
    terminal = kiosk(KIOSK=True).test_client().get("/")
    assert terminal.status_code == 302 and terminal.headers["Location"].endswith("/kiosk/")
    assert kiosk().test_client().get("/").status_code == 200


def test_a_kiosk_report_is_a_real_report_and_the_session_keeps_nothing_personal(city_kiosk):
    client = city_kiosk.test_client()
    response = kiosk_report(
        client, contact_name=NAME, contact_email=EMAIL, contact_phone=PHONE, anonymous="y"
    )
    assert response.status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert response.headers["Location"].endswith(f"/kiosk/reports/{report.tracking_number}/receipt")
    assert (report.source, report.contact_email, report.anonymous) == ("kiosk", EMAIL, True)
    receipts = db.session.scalars(select(Outbox)).all()
    assert [r.recipient for r in receipts] == [EMAIL]  # the usual receipt email
    stored = session_text(client)
    for personal in (NAME, EMAIL, "555-0199", "library steps"):
        assert personal not in stored

    receipt = client.get(response.headers["Location"])
    page = receipt.get_data(as_text=True)
    assert receipt.headers["Cache-Control"] == "no-store"
    assert f'<p class="tracking-big">{report.tracking_number}</p>' in page
    assert (
        "<svg" in page and f"QR code linking to http://bpt311.test/reports/{report.tracking_number}"
    )
    assert "We have emailed a receipt" in page and EMAIL not in page
    assert re.search(r'<noscript><meta http-equiv="refresh" content="\d+;url=/kiosk/reset">', page)
    assert 'name="phone"' not in page  # no SMS gateway configured: no texting offered

    finish = client.post("/kiosk/reset", data={"csrf_token": hidden(page, "csrf_token")})
    assert finish.status_code == 303
    assert session_text(client) == "{}"
    # Back on the receipt's address: the next visitor only sees the public status page.
    again = client.get(response.headers["Location"])
    assert again.status_code == 303
    assert again.headers["Location"].endswith(f"/kiosk/reports/{report.tracking_number}")


def test_kiosk_form_errors_come_back_as_the_form_partial_with_what_was_typed(city_kiosk):
    client = city_kiosk.test_client()
    page = client.get("/kiosk/report?category=pothole").get_data(as_text=True)
    response = client.post(
        "/kiosk/report",
        data={
            "csrf_token": hidden(page, "csrf_token"),
            "category": "pothole",
            "submission_key": hidden(page, "submission_key"),
            "description": "short",
            "contact_name": NAME,
        },
        headers=HTMX,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<html" not in body and 'id="error-summary"' in body
    assert f'value="{NAME}"' in body
    assert db.session.scalar(select(Report.id)) is None


def test_a_kiosk_post_without_the_csrf_token_is_refused(city_kiosk):
    response = kiosk_report(city_kiosk.test_client(), csrf_token="")
    assert response.status_code in (400, 422)
    assert db.session.scalar(select(Report.id)) is None


def test_the_receipt_is_emailed_once_however_often_it_is_asked_for(city_kiosk):
    client = city_kiosk.test_client()
    receipt_url = kiosk_report(client).headers["Location"]
    report = db.session.scalars(select(Report)).one()
    token = token_of(client, receipt_url)
    path = f"/kiosk/reports/{report.tracking_number}/email"
    first = client.post(path, data={"csrf_token": token, "email": EMAIL}, headers=HTMX)
    body = first.get_data(as_text=True)
    assert first.status_code == 200 and "<html" not in body
    assert 'data-announce="Receipt emailed.' in body
    second = client.post(path, data={"csrf_token": token, "email": EMAIL})
    assert second.status_code == 303
    rows = db.session.scalars(select(Outbox)).all()
    assert len(rows) == 1 and rows[0].recipient == EMAIL
    assert report.tracking_number in rows[0].body_text
    assert EMAIL not in session_text(client)


def test_a_bad_email_address_is_explained_and_nothing_is_sent(city_kiosk):
    client = city_kiosk.test_client()
    receipt_url = kiosk_report(client).headers["Location"]
    token = token_of(client, receipt_url)
    response = client.post(
        receipt_url.replace("/receipt", "/email"), data={"csrf_token": token, "email": "ana@"}
    )
    assert response.status_code == 422
    assert "Enter an email address like name@example.com" in response.get_data(as_text=True)
    assert db.session.scalar(select(Outbox.id)) is None


def test_nobody_can_send_another_visitors_receipt(city_kiosk):
    report = make_report()
    client = city_kiosk.test_client()
    token = token_of(client, "/kiosk/lookup")
    response = client.post(
        f"/kiosk/reports/{report.tracking_number}/email",
        data={"csrf_token": token, "email": EMAIL},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/kiosk/reports/{report.tracking_number}")
    assert db.session.scalar(select(Outbox.id)) is None


def test_emailing_receipts_is_rate_limited_per_report(make_app):
    app = make_app()
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        client = app.test_client()
        receipt_url = kiosk_report(client).headers["Location"]
        token = token_of(client, receipt_url)
        path = receipt_url.replace("/receipt", "/email")
        codes = [
            client.post(path, data={"csrf_token": token, "email": "x"}).status_code
            for _ in range(6)
        ]
        assert codes[:5] == [422] * 5 and codes[5] == 429


def test_the_receipt_is_texted_through_the_gateway_once(kiosk):
    with Gateway() as gateway:
        app = kiosk(SMS_GATEWAY_URL=gateway.url)
        with app.app_context():
            client = app.test_client()
            receipt_url = kiosk_report(client).headers["Location"]
            report = db.session.scalars(select(Report)).one()
            page = client.get(receipt_url).get_data(as_text=True)
            assert 'name="phone"' in page and 'inputmode="tel"' in page
            token = hidden(page, "csrf_token")
            path = receipt_url.replace("/receipt", "/text")
            sent = client.post(path, data={"csrf_token": token, "phone": PHONE}, headers=HTMX)
            assert sent.status_code == 200
            assert 'data-announce="Tracking number texted."' in sent.get_data(as_text=True)
            client.post(path, data={"csrf_token": token, "phone": PHONE})
    assert len(gateway.messages) == 1
    message = gateway.messages[0]
    assert message["content_type"] == "application/json"
    assert message["to"] == "+12035550199"
    assert report.tracking_number in message["body"]
    assert f"http://bpt311.test/reports/{report.tracking_number}" in message["body"]
    with app.app_context():
        assert "555" not in session_text(client)


def test_a_gateway_that_is_down_gets_a_message_not_an_error(kiosk):
    app = kiosk(SMS_GATEWAY_URL=f"http://127.0.0.1:{free_port()}/messages")
    with app.app_context():
        client = app.test_client()
        receipt_url = kiosk_report(client).headers["Location"]
        token = token_of(client, receipt_url)
        path = receipt_url.replace("/receipt", "/text")
        response = client.post(path, data={"csrf_token": token, "phone": PHONE})
        assert response.status_code == 422
        assert "could not be sent just now" in response.get_data(as_text=True)
        not_us = client.post(path, data={"csrf_token": token, "phone": "12"})
        assert "Enter a US mobile number" in not_us.get_data(as_text=True)


def test_texting_is_not_offered_without_a_gateway(city_kiosk):
    client = city_kiosk.test_client()
    receipt_url = kiosk_report(client).headers["Location"]
    token = token_of(client, receipt_url)
    response = client.post(
        receipt_url.replace("/receipt", "/text"), data={"csrf_token": token, "phone": PHONE}
    )
    assert response.status_code == 404


def test_looking_up_a_tracking_number(city_kiosk):
    report = make_report(description="Street light out by the bus stop")
    client = city_kiosk.test_client()
    found = client.get(f"/kiosk/lookup?number={report.id}")
    assert found.status_code == 303
    assert found.headers["Location"].endswith(f"/kiosk/reports/{report.tracking_number}")
    page = client.get(found.headers["Location"]).get_data(as_text=True)
    assert "Street light out by the bus stop" in page and "<svg" in page
    missing = client.get("/kiosk/lookup?number=BPT-999999")
    assert missing.status_code == 422
    assert "No report has the number" in missing.get_data(as_text=True)


def test_reports_near_city_hall_lists_open_reports_nearest_first(city_kiosk):
    near = make_report(description="Right outside City Hall")
    make_report(description="Far away in Black Rock", latitude=41.1485, longitude=-73.2172)
    make_report(description="Fixed already", status="closed")
    page = city_kiosk.test_client().get("/kiosk/nearby").get_data(as_text=True)
    assert "Right outside City Hall" in page
    assert "Black Rock" not in page and "Fixed already" not in page
    assert f"/kiosk/reports/{near.tracking_number}" in page
