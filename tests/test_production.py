"""In production (BPT311_ENV=production): HSTS on every answer, cookies only over HTTPS."""

from __future__ import annotations

import pytest

from bpt311 import create_app
from bpt311.accounts.service import hash_password
from bpt311.config import DEV_SECRET_KEY
from bpt311.models import utcnow
from tests.conftest import csrf_token_from
from tests.factories import make_user

PASSWORD = "correct horse battery"
# What `python -c "import secrets; print(secrets.token_hex(32))"` prints: 64 hex digits.
PRODUCTION_KEY = "3f1c9a7e5b2d4f6081a3c5e7f9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7"


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
    return make_app(SECRET_KEY=PRODUCTION_KEY)


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


@pytest.mark.parametrize(
    "key",
    [
        " ",
        "a",
        "   \t  ",
        DEV_SECRET_KEY,
        f"  {DEV_SECRET_KEY}  ",
        "test-secret-key",
        "x" * 31,
        "  " + "x" * 31 + "  ",  # 31 bytes once the spaces are taken off
    ],
)
def test_production_refuses_a_weak_secret_key_and_says_how_to_make_one(monkeypatch, tmp_path, key):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("BPT311_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(RuntimeError) as refusal:
        create_app()
    message = str(refusal.value)
    assert "SECRET_KEY" in message and "32" in message
    assert 'python -c "import secrets; print(secrets.token_hex(32))"' in message


def test_production_starts_with_a_long_random_key(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("BPT311_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", PRODUCTION_KEY)
    assert create_app().config["SECRET_KEY"] == PRODUCTION_KEY


def test_development_still_runs_on_a_short_key(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("BPT311_ENV", "development")
    monkeypatch.setenv("SECRET_KEY", "a")
    assert create_app().config["SECRET_KEY"] == "a"
