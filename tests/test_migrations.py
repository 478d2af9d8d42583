"""Migrations build the schema on an empty database, on SQLite and PostgreSQL,
and describe exactly what the models say."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bpt311 import MIGRATIONS_DIR, create_app
from bpt311.extensions import db
from bpt311.models import Base
from bpt311.models.search import include_object
from tests.conftest import TEST_DATABASE_URL, app_settings


@pytest.fixture
def empty_database(tmp_path):
    """A brand-new database on the engine under test, dropped afterwards."""
    if not TEST_DATABASE_URL.startswith("postgresql"):
        yield "sqlite:///" + str(tmp_path / "migrations.sqlite")
        return
    url = make_url(TEST_DATABASE_URL)
    name = f"bpt311_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_upgrade_an_empty_database_to_the_models(empty_database, tmp_path):
    app = create_app(app_settings(empty_database, tmp_path))
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "include_object": include_object}
            )
            diff = compare_metadata(context, Base.metadata)
        tables = set(inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"
    assert {
        "report",
        "category",
        "category_question",
        "department",
        "media",
        "timeline_event",
        "user_account",
        "audit_log",
        "outbox",
        "neighbourhood",
    } <= tables


def test_migrations_downgrade_cleanly(empty_database, tmp_path):
    app = create_app(app_settings(empty_database, tmp_path))
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        downgrade(directory=MIGRATIONS_DIR, revision="base")
        tables = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        db.engine.dispose()
    assert tables == set()


def test_sqlite_report_table_keeps_autoincrement_and_search_through_every_migration(tmp_path):
    """Batch migrations rebuild SQLite tables; tracking numbers must never be reused."""
    url = "sqlite:///" + str(tmp_path / "autoincrement.sqlite")
    app = create_app(app_settings(url, tmp_path))
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR)
        with db.engine.connect() as connection:
            sql = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'report'")
            ).scalar()
            triggers = (
                connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
                .scalars()
                .all()
            )
        db.engine.dispose()
    assert "AUTOINCREMENT" in sql
    # the full-text index's triggers survive table rebuilds
    assert {"report_fts_insert", "report_fts_delete", "report_fts_update"} <= set(triggers)
