"""In production (BPT311_ENV=production): HSTS on every answer, cookies only over HTTPS."""

from __future__ import annotations

import pytest

from bpt311.accounts.service import hash_password
from bpt311.models import utcnow
from tests.conftest import csrf_token_from
from tests.factories import make_user

PASSWORD = "correct horse battery"


def signed_in_cookies(app) -> dict[str, str]:
    with app.app_context():
        make_user(
            "maria@example.org", password_hash=hash_password(PASSWORD), email_verified_at=utcnow()
        )
    client = app.test_client()
    token = csrf_token_from(client, "/sign-in")
    response = client.post(
        "/sign-in",
        data={
            "csrf_token": token,
            "email": "maria@example.org",
            "password": PASSWORD,
            "remember": "y",
        },
    )
    assert response.status_code == 303
    return {h.split("=", 1)[0]: h for h in response.headers.getlist("Set-Cookie")}


@pytest.fixture
def production(make_app, monkeypatch):
    monkeypatch.setenv("BPT311_ENV", "production")
    return make_app()


@pytest.mark.parametrize("path", ["/", "/privacy", "/sign-in", "/no-such-page"])
def test_production_sends_hsts_on_every_page(production, path):
    response = production.test_client().get(path)
    assert response.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"


def test_production_cookies_are_secure_httponly_and_lax(production):
    cookies = signed_in_cookies(production)
    for name in ("session", "remember_token"):
        assert "Secure" in cookies[name]
        assert "HttpOnly" in cookies[name] and "SameSite=Lax" in cookies[name]


def test_development_sends_no_hsts_and_plain_cookies(make_app, monkeypatch):
    monkeypatch.delenv("BPT311_ENV", raising=False)
    app = make_app()
    assert "Strict-Transport-Security" not in app.test_client().get("/").headers
    cookies = signed_in_cookies(app)
    assert "Secure" not in cookies["session"]
