"""The application factory and its settings."""

import logging

import pytest

from bpt311 import create_app
from bpt311.config import DEV_SECRET_KEY


def test_factory_takes_the_test_settings(app):
    assert app.testing
    assert app.config["SECRET_KEY"] == "test-secret-key"
    assert app.config["SITE_URL"] == "http://bpt311.test"


def test_defaults_run_on_a_laptop(monkeypatch, tmp_path, caplog):
    for name in (
        "DATABASE_URL",
        "SECRET_KEY",
        "HOST",
        "PORT",
        "MAIL_SERVER",
        "BPT311_ENV",
        "MEDIA_ROOT",
        "SITE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    with caplog.at_level(logging.WARNING):
        app = create_app()
    config = app.config
    assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + str(
        tmp_path / "instance" / "bpt311.sqlite"
    )
    assert (config["HOST"], config["PORT"]) == ("127.0.0.1", 5000)
    assert config["MAIL_SERVER"] == ""
    assert config["MEDIA_ROOT"] == str(tmp_path / "instance" / "media")
    assert config["SECRET_KEY"] == DEV_SECRET_KEY
    assert "SECRET_KEY is not set" in caplog.text


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "sqlite:///" + str(tmp_path / "other.sqlite"))
    monkeypatch.setenv("SECRET_KEY", "from-env")
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.org")
    monkeypatch.setenv("MAIL_USE_TLS", "true")
    monkeypatch.setenv("GEOCODER_URL", "http://geocoder.internal")
    monkeypatch.setenv("MAP_TILE_URL", "https://tiles.example.org/{z}/{x}/{y}.png")
    monkeypatch.setenv("SITE_URL", "https://311.bridgeportct.gov/")
    config = create_app().config
    assert config["SQLALCHEMY_DATABASE_URI"].endswith("other.sqlite")
    assert config["SECRET_KEY"] == "from-env"
    assert config["PORT"] == 8123
    assert config["MAIL_SERVER"] == "smtp.example.org" and config["MAIL_USE_TLS"] is True
    assert config["GEOCODER_URL"] == "http://geocoder.internal"
    assert config["SITE_URL"] == "https://311.bridgeportct.gov"


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("BPT311_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app()


def test_production_cookies_are_secure(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("BPT311_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "5d0c8b6a4e2f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b3d5f")
    config = create_app().config
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_a_bad_number_in_the_environment_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(RuntimeError, match="PORT must be a whole number"):
        create_app()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    from sqlalchemy import text

    from bpt311.extensions import db

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
