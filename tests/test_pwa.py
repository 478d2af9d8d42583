"""The app on a phone: manifest, service worker, offline page, share target, deep links
and Web Push (sent to a push service served on loopback by the test, and decrypted)."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from PIL import Image
from sqlalchemy import func, select

from bpt311 import push
from bpt311.community.comments import delete_comment
from bpt311.extensions import db
from bpt311.models import Comment, Follow, PushMessage, PushSubscription, Report, utcnow
from tests.conftest import client_for, csrf_token_from, post_form
from tests.factories import CITY_HALL, hidden, make_report, make_user, report_form_data
from tests.test_reporting import jpeg

# What a phone's share sheet sends: the browser itself starts the request.
SHARE_SHEET = {"Sec-Fetch-Site": "none"}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# ---- installable ----------------------------------------------------------------------------


def test_manifest_has_what_phones_ask_for(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert manifest["name"] == "Bridgeport 311"
    assert 0 < len(manifest["short_name"]) <= 12
    assert manifest["display"] == "standalone"
    assert manifest["scope"] == "/"
    assert manifest["start_url"].startswith("/")
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["background_color"])
    seen = set()
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200, icon["src"]
        with Image.open(io.BytesIO(image.get_data())) as picture:
            assert picture.format == "PNG"
            assert f"{picture.width}x{picture.height}" == icon["sizes"]
        seen.add((icon["sizes"], icon["purpose"]))
    for size in ("192x192", "512x512"):
        assert (size, "any") in seen and (size, "maskable") in seen
    share = manifest["share_target"]
    assert share["method"] == "POST" and share["enctype"] == "multipart/form-data"
    assert share["action"] == "/share"
    assert share["params"]["files"][0]["accept"] == ["image/*"]


def test_every_page_links_the_manifest_theme_colour_and_scripts(client):
    page = client.get("/").get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert '<meta name="theme-color" content="#0b3d91">' in page
    assert 'data-worker="/sw.js"' in page


def test_service_worker_is_served_fresh_and_precaches_the_shell_by_fingerprinted_name(app):
    client = app.test_client()
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    assert len(body.encode()) < 8000  # a few kilobytes, hand-written
    shell = json.loads(re.search(r"const SHELL = (\[.*?\]);", body).group(1))
    with app.test_request_context():
        from flask import url_for

        site_css = url_for("static", filename="css/site.css")
    assert "/offline" in shell and site_css in shell
    for url in shell:  # every precached file exists, or install would fail
        assert client.get(url).status_code == 200, url
    assert re.search(r'const VERSION = "[0-9a-f]{12}";', body)


def test_service_worker_names_no_private_page(client):
    body = client.get("/sw.js").get_data(as_text=True)
    for private in ("/me", "/staff", "/sign-in", "/register", "/watch", "/kiosk", "/admin"):
        assert f'"{private}' not in body and f"\\/{private[1:]}" not in body, private
    # POSTs are never answered from a cache
    assert 'if (request.method !== "GET")' in body


def test_signed_in_pages_are_marked_private_so_the_worker_never_keeps_them(site):
    maria = make_user("maria@example.org", email_verified_at=utcnow())
    assert "private" not in (site.test_client().get("/").headers.get("Cache-Control") or "")
    signed_in = client_for(site, maria).get("/")
    # what the worker reads (templates/pwa/sw.js): "private" or "no-store" is never kept
    assert re.search(r"private|no-store", signed_in.headers["Cache-Control"])


def test_offline_page_is_public_and_says_what_it_lists_without_javascript(client):
    response = client.get("/offline")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Reports on this phone</h1>" in page
    assert 'id="phone-reports"' in page and 'id="phone-drafts"' in page
    assert "needs JavaScript" in page
    assert "Call 911" in page


def test_report_form_carries_the_offline_draft_hooks_but_staff_intake_does_not(site):
    page = site.test_client().get("/reports/new?category=pothole").get_data(as_text=True)
    assert 'data-offline-drafts data-category-name="Pothole"' in page
    assert len(hidden(page, "submission_key")) >= 20


def test_a_draft_sent_twice_makes_one_report(site):
    """What the phone does when it resends a saved draft: the submission key decides."""
    client = site.test_client()
    data = {**report_form_data(client), "not_duplicate": "1"}
    first = client.post("/reports/new", data=data)
    second = client.post("/reports/new", data=data)
    assert first.status_code == second.status_code == 303
    assert first.location == second.location
    assert db.session.scalar(select(func.count(Report.id))) == 1


# ---- share target -----------------------------------------------------------------------


def test_shared_photo_opens_the_form_with_it_attached_and_its_location_offered(site):
    client = site.test_client()
    photo, _ = jpeg(gps=(41.1792, -73.1894), name="IMG_2041.jpg")
    # No CSRF token: the phone's share sheet posts this, not our form.
    response = client.post(
        "/share",
        data={"photos": (photo, "IMG_2041.jpg"), "text": "Huge pothole"},
        content_type="multipart/form-data",
        headers=SHARE_SHEET,
    )
    assert response.status_code == 303
    assert response.location == "/reports/new"
    step_one = client.get("/reports/new").get_data(as_text=True)
    assert "IMG_2041.jpg is attached. Choose what kind of problem it is." in step_one
    form = client.get("/reports/new?category=pothole").get_data(as_text=True)
    assert "IMG_2041.jpg is attached" in form
    assert re.search(r'name="pending_media" value="[0-9a-f]{32}"', form)
    assert "Where your photo IMG_2041.jpg was taken" in form
    assert re.search(r'<input checked[^>]*value="41\.179200,-73\.189400\|', form)
    assert "Huge pothole" in form
    assert "SecretCam" not in form


def test_a_shared_photo_goes_into_the_report_once(site):
    client = site.test_client()
    photo, _ = jpeg(gps=(41.1792, -73.1894), name="shared.jpg")
    client.post("/share", data={"photos": (photo, "shared.jpg")}, headers=SHARE_SHEET)
    form = client.get("/reports/new?category=pothole").get_data(as_text=True)
    token = re.search(r'name="pending_media" value="([0-9a-f]{32})"', form).group(1)
    response = client.post(
        "/reports/new",
        data={
            "csrf_token": csrf_token_from(client),
            "category": "pothole",
            "submission_key": hidden(form, "submission_key"),
            "description": "A deep pothole right by the library door.",
            "pending_media": token,
            "location_choice": hidden(form, "location_choice"),
            "answer_size": "medium",
            "not_duplicate": "1",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    report = db.session.scalars(select(Report)).one()
    assert len(report.media) == 1
    # The share is used up: the next form starts empty.
    assert "pending_media" not in client.get("/reports/new?category=pothole").get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Nothing we can use was shared"),
        ({"text": "just some words"}, "Nothing we can use was shared"),
        (
            {"photos": (io.BytesIO(b"hello, not a picture"), "notes.txt")},
            "No photo was attached. You can still report the problem.",
        ),
        (
            {"photos": (io.BytesIO(b"\xff\xd8\xff\xe0 truncated"), "broken.jpg")},
            "No photo was attached",
        ),
    ],
)
def test_unknown_share_payloads_open_the_form_with_a_clear_message(site, data, message):
    client = site.test_client()
    response = client.post(
        "/share", data=data, content_type="multipart/form-data", headers=SHARE_SHEET
    )
    assert response.status_code == 303 and response.location == "/reports/new"
    page = client.get("/reports/new").get_data(as_text=True)
    assert message in page
    assert "pending_media" not in client.get("/reports/new?category=pothole").get_data(as_text=True)


def test_another_site_cannot_post_into_the_share_target(site):
    photo, _ = jpeg(name="x.jpg")
    response = site.test_client().post(
        "/share", data={"photos": (photo, "x.jpg")}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no Sec-Fetch-Site, no Origin, no token"),
        pytest.param({"Origin": "https://evil.example"}, id="another site's Origin"),
        pytest.param({"Origin": "null"}, id="an opaque Origin"),
        pytest.param({"Origin": "http://localhost.evil.example"}, id="a lookalike Origin"),
        pytest.param({"Origin": "http://localhost:8080"}, id="another port"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, id="cross-site"),
        pytest.param({"Sec-Fetch-Site": "same-site"}, id="a sibling subdomain"),
        pytest.param({"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"}, id="both"),
        pytest.param({"X-CSRFToken": "forged"}, id="a forged token"),
    ],
)
def test_a_share_from_another_site_is_refused_with_a_page(site, headers):
    """A browser that sends no Sec-Fetch-Site must show where the post came from (Origin)
    or carry our token; nothing is stashed for the next report form."""
    client = site.test_client()
    photo, _ = jpeg(name="planted.jpg")
    response = client.post(
        "/share",
        data={"photos": (photo, "planted.jpg"), "text": "planted"},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "<html" in page and "share" in page.lower()
    form = client.get("/reports/new?category=pothole").get_data(as_text=True)
    assert "planted" not in form and "pending_media" not in form


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(SHARE_SHEET, id="the share sheet"),
        pytest.param({"Sec-Fetch-Site": "same-origin"}, id="our own page"),
        pytest.param({"Origin": "http://localhost"}, id="our Origin, no Sec-Fetch-Site"),
    ],
)
def test_a_share_from_the_phone_or_our_own_pages_is_taken(site, headers):
    client = site.test_client()
    photo, _ = jpeg(name="mine.jpg")
    response = client.post(
        "/share",
        data={"photos": (photo, "mine.jpg")},
        content_type="multipart/form-data",
        headers=headers,
    )
    assert response.status_code == 303 and response.location == "/reports/new"
    assert "mine.jpg is attached" in client.get("/reports/new").get_data(as_text=True)


def test_an_old_browser_without_either_header_may_share_with_our_token(site):
    client = site.test_client()
    photo, _ = jpeg(name="mine.jpg")
    response = client.post(
        "/share",
        data={"photos": (photo, "mine.jpg"), "csrf_token": csrf_token_from(client)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303


def test_share_target_is_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    codes = [client.post("/share", data={}, headers=SHARE_SHEET).status_code for _ in range(6)]
    assert codes[:5] == [303] * 5 and codes[5] == 429


# ---- deep links -------------------------------------------------------------------------


def test_deep_link_with_a_category_skips_the_category_step_and_places_the_point(site):
    page = (
        site.test_client()
        .get("/reports/new?lat=41.1792&lon=-73.1894&category=streetlight")
        .get_data(as_text=True)
    )
    assert "<h1>Report a street light out</h1>" in page or "Problem: <strong>" in page
    assert 'name="category" type="hidden" value="streetlight"' in page or re.search(
        r'name="category"[^>]*value="streetlight"', page
    )
    assert re.search(r'name="latitude"[^>]*value="41.1792"', page)
    assert re.search(r'name="longitude"[^>]*value="-73.1894"', page)


def test_deep_link_with_an_unknown_category_says_so_and_keeps_the_point(site):
    client = site.test_client()
    page = client.get("/reports/new?lat=41.1792&lon=-73.1894&category=unicorns").get_data(
        as_text=True
    )
    assert "That kind of problem is not on our list. Choose one below." in page
    assert 'name="category"' in page and 'type="radio"' in page
    form = client.get("/reports/new?category=pothole").get_data(as_text=True)
    assert re.search(r'name="latitude"[^>]*value="41.1792"', form)
    # used once: a later form does not inherit it
    later = client.get("/reports/new?category=pothole").get_data(as_text=True)
    assert not re.search(r'name="latitude"[^>]*value="41.1792"', later)


# ---- push: subscriptions ---------------------------------------------------------------------


@pytest.fixture
def push_site(make_app, smtp):
    public, private = push.new_vapid_keys()
    app = make_app(
        **smtp.settings,
        VAPID_PUBLIC_KEY=public,
        VAPID_PRIVATE_KEY=private,
        VAPID_SUBJECT="mailto:test@bpt311.test",
        PUSH_SERVICE_HOSTS="fcm.googleapis.com",
    )
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app


class Device:
    """A browser's push keys, as PushManager.subscribe() makes them."""

    def __init__(self, endpoint: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = b"0123456789abcdef"
        self.endpoint = endpoint

    def subscription(self) -> dict:
        point = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64(point), "auth": b64(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


def subscribe(client, payload):
    return client.post(
        "/me/settings/push/subscribe",
        json=payload,
        headers={"X-CSRFToken": csrf_token_from(client, "/me/settings/push")},
    )


def test_push_is_hidden_when_no_vapid_keys_are_set(site):
    maria = make_user("maria@example.org", email_verified_at=utcnow())
    client = client_for(site, maria)
    assert "Notifications on your phone" not in client.get("/me/settings").get_data(as_text=True)
    assert client.get("/me/settings/push").status_code == 404


def test_resident_turns_push_on_and_off_for_a_device(push_site):
    maria = make_user("maria@example.org", email_verified_at=utcnow())
    client = client_for(push_site, maria)
    settings = client.get("/me/settings").get_data(as_text=True)
    assert 'href="/me/settings/push"' in settings
    device = Device("https://fcm.googleapis.com/fcm/send/abc123")
    payload = {"subscription": device.subscription(), "reports": True, "areas": False}
    answer = subscribe(client, {**payload, "label": "Chrome on Android"})
    assert answer.status_code == 200 and answer.get_json()["ok"]
    again = subscribe(client, payload)  # the same device again: still one row
    assert again.status_code == 200
    row = db.session.scalars(select(PushSubscription)).one()
    assert (row.user_id, row.reports, row.areas) == (maria.id, True, False)
    page = client.get("/me/settings/push").get_data(as_text=True)
    assert "reports" in page and "Turn off" in page
    token = csrf_token_from(client, "/me/settings/push")
    off = client.post(
        "/me/settings/push/unsubscribe",
        json={"endpoint": device.endpoint},
        headers={"X-CSRFToken": token},
    )
    assert off.get_json()["ok"]
    assert db.session.scalar(select(func.count(PushSubscription.id))) == 0


def test_a_device_can_be_turned_off_from_the_list_without_javascript(push_site):
    maria = make_user("maria@example.org", email_verified_at=utcnow())
    client = client_for(push_site, maria)
    subscribe(client, {"subscription": Device("https://fcm.googleapis.com/x").subscription()})
    device_id = db.session.scalar(select(PushSubscription.id))
    response = post_form(client, "/me/settings/push/unsubscribe", {"device": str(device_id)})
    assert response.status_code == 303
    assert db.session.scalar(select(func.count(PushSubscription.id))) == 0


def _forged(kind: str) -> dict:
    good = Device("https://fcm.googleapis.com/fcm/send/abc").subscription()
    if kind == "private address":
        return {**good, "endpoint": "https://10.0.0.7/steal"}
    if kind == "plain http":
        return {**good, "endpoint": "http://fcm.googleapis.com/fcm/send/abc"}
    if kind == "lookalike host":
        return {**good, "endpoint": "https://fcm.googleapis.com.evil.example/x"}
    if kind == "backslash bypass":  # urllib3 reads host 127.0.0.1, path /%5C.fcm...
        return {**good, "endpoint": "https://127.0.0.1\\.fcm.googleapis.com/x"}
    if kind == "odd port":
        return {**good, "endpoint": "https://fcm.googleapis.com:8443/fcm/send/abc"}
    if kind == "ssh port":
        return {**good, "endpoint": "https://fcm.googleapis.com:22/x"}
    if kind == "user name":
        return {**good, "endpoint": "https://fcm.googleapis.com\\@127.0.0.1/x"}
    if kind == "tab in host":
        return {**good, "endpoint": "https://fcm.googleapis.com\t/x"}
    if kind == "loopback literal":
        return {**good, "endpoint": "https://[::1]/fcm.googleapis.com"}
    if kind == "point off the curve":
        return {**good, "keys": {**good["keys"], "p256dh": b64(b"\x04" + b"\x01" * 64)}}
    if kind == "short secret":
        return {**good, "keys": {**good["keys"], "auth": b64(b"short")}}
    if kind == "no keys":
        return {"endpoint": good["endpoint"]}
    return "not even json"


@pytest.mark.parametrize(
    "kind",
    [
        "private address",
        "plain http",
        "lookalike host",
        "backslash bypass",
        "odd port",
        "ssh port",
        "user name",
        "tab in host",
        "loopback literal",
        "point off the curve",
        "short secret",
        "no keys",
        "text",
    ],
)
def test_forged_or_invalid_subscriptions_are_refused(push_site, kind):
    maria = make_user("maria@example.org", email_verified_at=utcnow())
    client = client_for(push_site, maria)
    answer = subscribe(client, {"subscription": _forged(kind)})
    assert answer.status_code == 422
    assert answer.get_json()["message"]
    assert db.session.scalar(select(func.count(PushSubscription.id))) == 0


def test_a_bypass_endpoint_is_refused_with_the_push_service_message(push_site):
    maria = make_user("maria@example.org", email_verified_at=utcnow())
    client = client_for(push_site, maria)
    for kind in ("backslash bypass", "odd port"):
        answer = subscribe(client, {"subscription": _forged(kind)})
        assert answer.status_code == 422
        assert answer.get_json()["message"] == "That push service is not one we send to."


def test_subscribing_needs_the_csrf_token_and_an_account(push_site):
    device = Device("https://fcm.googleapis.com/fcm/send/abc")
    guest = push_site.test_client()
    assert guest.post(
        "/me/settings/push/subscribe", json={"subscription": device.subscription()}
    ).status_code in (302, 303, 400, 401)
    maria = make_user("maria@example.org", email_verified_at=utcnow())
    client = client_for(push_site, maria)
    no_token = client.post(
        "/me/settings/push/subscribe", json={"subscription": device.subscription()}
    )
    assert no_token.status_code == 400
    assert db.session.scalar(select(func.count(PushSubscription.id))) == 0


# ---- push: delivery to a push service on loopback --------------------------------------------


class PushService:
    """A push service on loopback: records what it is sent and answers ``status``."""

    def __init__(self, status: int = 201):
        self.status = status
        self.received: list[tuple[str, dict, bytes]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                service.received.append((self.path, headers, self.rfile.read(length)))
                self.send_response(service.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        # Named by its exact origin, as an operator would name a push service of their own:
        # only then may the worker send to a loopback address over http.
        current_app.config["PUSH_SERVICE_HOSTS"] += "," + self.url
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def _comment_on_followed_report(push_site, device: Device) -> Report:
    maria = make_user("maria@example.org", email_verified_at=utcnow())
    luis = make_user(
        "luis@example.org", display_name="Luis", show_name=True, email_verified_at=utcnow()
    )
    report = make_report()
    db.session.add(Follow(report_id=report.id, user_id=maria.id))
    db.session.commit()
    subscribe(client_for(push_site, maria), {"subscription": device.subscription()})
    response = post_form(
        client_for(push_site, luis),
        f"/reports/{report.tracking_number}/comments",
        {"body": "The crew was here this morning."},
    )
    assert response.status_code in (200, 303)
    return report


def test_push_round_trip_to_a_loopback_push_service(push_site):
    with PushService() as service:
        device = Device(service.url + "/push/maria-phone")
        report = _comment_on_followed_report(push_site, device)
        # Queued with the comment, not sent inside the request.
        assert service.received == []
        assert db.session.scalar(select(func.count(PushMessage.id))) == 1
        assert push.deliver_push_due() == 1
    [(path, headers, body)] = service.received
    assert path == "/push/maria-phone"
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["authorization"].startswith("vapid t=")
    assert int(headers["ttl"]) > 0
    assert b"crew" not in body  # encrypted on the wire
    message = device.decrypt(body)
    assert message["title"] == f"{report.tracking_number}: Luis commented"
    assert message["body"] == "The crew was here this morning."
    assert message["url"] == f"/reports/{report.tracking_number}"
    db.session.expire_all()
    assert db.session.scalars(select(PushMessage)).one().status == "sent"
    assert push.deliver_push_due() == 0  # sent once


def test_a_push_not_yet_sent_of_a_comment_deleted_meanwhile_is_withdrawn(push_site):
    """Its words are not pushed to followers once its writer deleted it (or moderators
    hid it: the same withdrawal)."""
    with PushService() as service:
        device = Device(service.url + "/push/maria-phone")
        report = _comment_on_followed_report(push_site, device)
        comment = db.session.scalars(select(Comment).where(Comment.report_id == report.id)).one()
        delete_comment(comment, comment.author)
        assert push.deliver_push_due() == 0
    assert service.received == []
    assert db.session.scalar(select(func.count(PushMessage.id))) == 0


def test_a_gone_subscription_is_removed_when_the_push_service_says_410(push_site):
    with PushService(status=410) as service:
        device = Device(service.url + "/push/old-phone")
        _comment_on_followed_report(push_site, device)
        assert push.deliver_push_due() == 0
        assert len(service.received) == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count(PushSubscription.id))) == 0
    assert db.session.scalar(select(func.count(PushMessage.id))) == 0


def test_a_failing_push_service_is_retried_later_not_lost(push_site):
    with PushService(status=503) as service:
        device = Device(service.url + "/push/busy")
        _comment_on_followed_report(push_site, device)
        assert push.deliver_push_due() == 0
        assert len(service.received) == 1
    db.session.expire_all()
    row = db.session.scalars(select(PushMessage)).one()
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at > utcnow()
    assert db.session.scalar(select(func.count(PushSubscription.id))) == 1


def test_the_person_who_acted_is_not_pushed_about_it(push_site):
    with PushService() as service:
        maria = make_user("maria@example.org", email_verified_at=utcnow())
        report = make_report()
        db.session.add(Follow(report_id=report.id, user_id=maria.id))
        db.session.commit()
        client = client_for(push_site, maria)
        subscribe(client, {"subscription": Device(service.url + "/p").subscription()})
        post_form(client, f"/reports/{report.tracking_number}/comments", {"body": "Still there."})
        assert db.session.scalar(select(func.count(PushMessage.id))) == 0


def test_watch_area_events_are_pushed_once_to_devices_that_want_them(push_site):
    from bpt311.watchers.events import announce
    from tests.test_watch_support import circle_area

    maria = make_user("maria@example.org", email_verified_at=utcnow())
    ana = make_user("ana@example.org", email_verified_at=utcnow())
    circle_area(maria, lat=CITY_HALL[0], lon=CITY_HALL[1], delivery="email")
    circle_area(ana, lat=CITY_HALL[0], lon=CITY_HALL[1], delivery="email")
    maria_phone = Device("https://fcm.googleapis.com/fcm/send/maria")
    ana_phone = Device("https://fcm.googleapis.com/fcm/send/ana")
    push.subscribe(maria, maria_phone.subscription(), reports=True, areas=True)
    push.subscribe(ana, ana_phone.subscription(), reports=True, areas=False)
    report = make_report()
    announce(report, "new")
    announce(report, "new")  # a second event for the same report in one transaction
    db.session.commit()
    [message] = db.session.scalars(select(PushMessage)).all()
    assert message.subscription.user_id == maria.id
    assert message.payload["title"] == "New report: Pothole"
    assert message.payload["url"] == f"/reports/{report.tracking_number}"


def test_vapid_keys_command_prints_a_working_pair(app):
    from py_vapid import Vapid

    output = app.test_cli_runner().invoke(args=["pwa", "vapid-keys"]).output
    public = re.search(r"^VAPID_PUBLIC_KEY=(\S+)$", output, re.M).group(1)
    private = re.search(r"^VAPID_PRIVATE_KEY=(\S+)$", output, re.M).group(1)
    vapid = Vapid.from_string(private)
    point = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert b64(point) == public


# ---- push: never to a private address ------------------------------------------------------


@pytest.fixture
def connections(monkeypatch):
    """Every connection the sender opens, refused after it is recorded: no test here may
    reach anything, and each shows where the worker tried to go."""
    import urllib3.util.connection

    tried = []

    def record(address, *args, **kwargs):
        tried.append(address)
        raise OSError("no network in tests")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", record)
    return tried


def _stored_before_the_checks(endpoint: str) -> Device:
    """A subscription already in the database (stored before these checks existed), with
    a notification waiting for it."""
    maria = make_user("maria@example.org", email_verified_at=utcnow())
    device = Device(endpoint)
    keys = device.subscription()["keys"]
    row = PushSubscription(
        user_id=maria.id,
        endpoint=endpoint,
        endpoint_hash=push.endpoint_hash(endpoint),
        p256dh=keys["p256dh"],
        auth=keys["auth"],
    )
    db.session.add(row)
    db.session.flush()
    db.session.add(PushMessage(subscription_id=row.id, payload={"title": "t", "body": "b"}))
    db.session.commit()
    return device


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.0.0.1\\.fcm.googleapis.com/x",
        "https://fcm.googleapis.com:8443/x",
        "https://fcm.googleapis.com:22/x",
        "http://fcm.googleapis.com/x",
        "https://10.0.0.7/steal",
    ],
)
def test_a_stored_bypass_endpoint_is_refused_at_send_time(push_site, connections, endpoint):
    _stored_before_the_checks(endpoint)
    assert push.deliver_push_due() == 0
    assert connections == []
    db.session.expire_all()
    message = db.session.scalars(select(PushMessage)).one()
    assert message.status == "pending" and message.last_error.startswith("refused:")


def _resolving(monkeypatch, answers: dict[str, str]):
    """getaddrinfo as a DNS server that answers ``answers`` (host -> address) would."""
    import socket

    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in answers:
            address = answers[host]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if ":" in address else (address, port)
            return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fd00::1"])
def test_a_push_service_subdomain_that_resolves_to_a_private_address_is_refused_at_send_time(
    push_site, connections, monkeypatch, address
):
    endpoint = "https://rebound.fcm.googleapis.com/fcm/send/abc"
    maria = make_user("maria@example.org", email_verified_at=utcnow())
    # At subscribe time it is a push service's subdomain like any other.
    answer = subscribe(
        client_for(push_site, maria), {"subscription": Device(endpoint).subscription()}
    )
    assert answer.status_code == 200
    db.session.add(
        PushMessage(
            subscription_id=db.session.scalar(select(PushSubscription.id)),
            payload={"title": "t", "body": "b"},
        )
    )
    db.session.commit()
    _resolving(monkeypatch, {"rebound.fcm.googleapis.com": address})
    assert push.deliver_push_due() == 0
    assert connections == []
    db.session.expire_all()
    message = db.session.scalars(select(PushMessage)).one()
    assert message.status == "pending" and address in message.last_error


def test_a_push_service_on_a_public_address_is_sent_to(push_site, connections, monkeypatch):
    endpoint = "https://public.fcm.googleapis.com/fcm/send/abc"
    _stored_before_the_checks(endpoint)
    _resolving(monkeypatch, {"public.fcm.googleapis.com": "142.250.80.10"})
    assert push.deliver_push_due() == 0  # the fake network refuses it after recording
    assert [host for host, _port in connections] == ["public.fcm.googleapis.com"]
    assert connections[0][1] == 443
