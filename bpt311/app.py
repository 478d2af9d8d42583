"""The app factory: builds the Flask application and registers every blueprint."""

from __future__ import annotations

import hmac
import logging
import os
from pathlib import Path

from flask import Flask
from flask_babel import gettext
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from bpt311 import assets, errors, i18n, jobs, public_cache, security, storage, templating
from bpt311 import config as settings
from bpt311.accounts.views import bp as accounts_bp
from bpt311.api import pages  # noqa: F401  (adds /developers and the embeds to bp)
from bpt311.api.views import bp as api_bp
from bpt311.cli import register_cli
from bpt311.community.views import bp as community_bp
from bpt311.extensions import csrf, db, htmx, limiter, login_manager, migrate
from bpt311.home.views import bp as home_bp
from bpt311.kiosk.views import bp as kiosk_bp
from bpt311.models import User
from bpt311.ops import views as ops
from bpt311.privacy.views import bp as privacy_bp
from bpt311.pwa.views import bp as pwa_bp
from bpt311.reports import listing  # noqa: F401  (adds the list, map and exports)
from bpt311.reports.views import bp as reports_bp
from bpt311.staff import (  # noqa: F401  (staff pages on staff.bp)
    admin,
    admin_catalogue,
    admin_open311,
    audit_pages,
    dashboard,
)
from bpt311.staff.moderation import views as moderation  # noqa: F401  (on staff.bp)
from bpt311.staff.views import bp as staff_bp
from bpt311.stats.views import bp as stats_bp
from bpt311.tokens import session_hold
from bpt311.watch.views import bp as watch_bp

PROJECT_ROOT = settings.PROJECT_ROOT
MIGRATIONS_DIR = settings.MIGRATIONS_DIR


def create_app(config: dict | None = None) -> Flask:
    """Build the app; ``config`` overrides any setting (tests pass their own)."""
    instance_path = os.environ.get("INSTANCE_PATH", "").strip() or str(PROJECT_ROOT / "instance")
    app = Flask(
        "bpt311",
        instance_path=instance_path,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(settings.DEFAULTS)
    app.config.update(settings.from_environment(app.instance_path))
    app.config.update(config or {})
    if "SQLALCHEMY_DATABASE_URI" in (config or {}) and "SQLALCHEMY_ENGINE_OPTIONS" not in config:
        # the pool and driver settings of the database given, not of DATABASE_URL's
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = settings.engine_options(url)
    _configure_logging()
    settings.check_secret_key(app.config)
    if app.config["PROXY_COUNT"]:  # behind a TLS proxy: trust its X-Forwarded-* headers
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    Path(app.config["MEDIA_ROOT"]).mkdir(parents=True, exist_ok=True)
    storage.init_app(app)  # local folder or object store: checked now, loudly

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = "Sign in to do that."
    login_manager.login_message_category = "info"
    login_manager.localize_callback = gettext
    limiter.init_app(app)
    with app.app_context():
        _tune_sqlite(db.engine)

    app.register_blueprint(home_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(community_bp)
    app.register_blueprint(watch_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(stats_bp)
    app.register_blueprint(kiosk_bp)
    app.register_blueprint(pwa_bp)
    app.register_blueprint(privacy_bp)
    app.register_blueprint(ops.bp)
    ops.register(app)
    assets.register(app)
    errors.register(app)
    security.register(app)
    templating.register(app)
    i18n.register(app)
    public_cache.init_app(app)  # anonymous public pages: shared-cache headers and the cache
    jobs.init_app(app)  # the job queue: /staff/admin/jobs, flask jobs ..., metrics
    register_cli(app)
    return app


@login_manager.user_loader
def _load_user(session_id: str):
    number, _, held = (session_id or "").partition(".")
    if not number.isdigit():
        return None
    user = db.session.get(User, int(number))
    if user is None or not hmac.compare_digest(held, session_hold(user)):
        return None  # signed out (everywhere) or the password changed since this cookie was made
    return user


SQLITE_MMAP_BYTES = 1 << 30  # address space, not memory: the OS shares the file's pages


def _tune_sqlite(engine) -> None:
    """WAL lets readers work while one writer writes; foreign keys are off by default."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Reads through memory-mapped pages rather than a read() per page: SQLite's own
        # page cache is 2 MB, so a query touching much of a large table made a system
        # call per page (a year of one department's figures: 2 s, against 0.2 s mapped).
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()


def _configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
