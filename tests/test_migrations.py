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
from bpt311.models import Base, create_schema, drop_schema
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


# SQLAlchemy cannot reflect SQLite's expression index for the map (models/map_cells.py);
# include_object leaves it out of the comparison anyway.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
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


def _insert(connection, table, **given) -> int:
    """A row with ``given`` values and a plain value in every other required column."""
    from datetime import datetime

    from sqlalchemy import Boolean, DateTime, Float, Integer, MetaData, Table

    reflected = Table(table, MetaData(), autoload_with=connection)
    row = dict(given)
    for column in reflected.columns:
        if column.name in row or column.primary_key or column.nullable:
            continue
        if column.server_default is not None:
            continue
        kind = column.type
        if isinstance(kind, Boolean):
            row[column.name] = False
        elif isinstance(kind, Integer):
            row[column.name] = 1
        elif isinstance(kind, Float):
            row[column.name] = 41.18
        elif isinstance(kind, DateTime):
            row[column.name] = datetime(2026, 11, 1)
        elif kind.__class__.__name__ == "JSON":
            row[column.name] = {}
        else:
            row[column.name] = "x"
    return connection.execute(reflected.insert().values(**row)).inserted_primary_key[0]


def test_a_photo_file_name_in_an_address_is_cleared_for_the_reverse_geocoder(
    empty_database, tmp_path
):
    """Reports whose address was "Where your photo <file> was taken" (#22.3) lose it
    and wait for the geocoding job to name the place."""
    app = create_app(app_settings(empty_database, tmp_path))
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="5e1f0a9b2c09")
        with db.engine.begin() as connection:
            department = _insert(connection, "department", name="Public Works")
            category = _insert(
                connection, "category", department_id=department, service_code="pothole"
            )
            for address in ("Where your photo pothole_gps2.jpg was taken", "45 Lyon Terrace"):
                _insert(
                    connection,
                    "report",
                    category_id=category,
                    department_id=department,
                    address=address,
                )
        upgrade(directory=MIGRATIONS_DIR)
        with db.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT address, location_pending FROM report ORDER BY id")
            ).all()
        db.engine.dispose()
    assert [(address, bool(pending)) for address, pending in rows] == [
        ("", True),
        ("45 Lyon Terrace", False),
    ]


def test_the_daily_figures_are_filled_from_the_reports_already_there(empty_database, tmp_path):
    """Migration 5e1f0a9b2c26 fills daily_figure from existing reports with the very rows
    ``flask stats rebuild`` makes (its counting is repeated there on purpose)."""
    from datetime import datetime, timedelta

    from bpt311 import effects
    from bpt311.models import daily_figure
    from bpt311.reports import daily
    from bpt311.site import city_zone

    app = create_app(app_settings(empty_database, tmp_path))
    with app.app_context():
        upgrade(directory=MIGRATIONS_DIR, revision="5e1f0a9b2c22")
        with db.engine.begin() as connection:
            department = _insert(connection, "department", name="Public Works")
            category = _insert(
                connection, "category", department_id=department, service_code="pothole"
            )
            start = datetime(2026, 3, 7, 3)  # a Saturday night in the city (EST)
            for n in range(12):
                created = start + timedelta(hours=7 * n)
                _insert(
                    connection,
                    "report",
                    category_id=category,
                    department_id=department,
                    created_at=created,
                    acknowledged_at=created + timedelta(minutes=40 * n) if n % 3 else None,
                    closed_at=created + timedelta(hours=30 * n) if n % 2 else None,
                    due_at=created + timedelta(hours=72) if n % 4 else None,
                    hidden_at=created if n == 5 else None,
                )
        upgrade(directory=MIGRATIONS_DIR)
        with db.engine.connect() as connection:
            migrated = sorted(connection.execute(daily_figure.select()).all())
        assert len(migrated) > 12
        daily.rebuild(db.session.connection(), city_zone())
        effects.commit()
        with db.engine.connect() as connection:
            rebuilt = sorted(connection.execute(daily_figure.select()).all())
        db.session.remove()
        db.engine.dispose()
    assert migrated == rebuilt


def _hand_made_schema(connection) -> set[str]:
    """The names of what the models cannot describe: SQLite's full-text table and its
    triggers, PostgreSQL's search index, and either engine's map-cell index."""
    if connection.dialect.name == "sqlite":
        query = (
            "SELECT name FROM sqlite_master WHERE name LIKE 'report_fts%' AND type = 'trigger' "
            "OR name IN ('report_fts', 'ix_report_map_cell')"
        )
    else:
        query = (
            "SELECT indexname FROM pg_indexes WHERE tablename = 'report' "
            "AND indexname IN ('ix_report_search', 'ix_report_map_cell')"
        )
    return set(connection.execute(text(query)).scalars())


HAND_MADE = {
    "sqlite": {
        "report_fts",
        "report_fts_insert",
        "report_fts_delete",
        "report_fts_update",
        "ix_report_map_cell",
    },
    "postgresql": {"ix_report_search", "ix_report_map_cell"},
}


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_create_schema_makes_the_hand_made_indexes_and_drop_schema_leaves_nothing(
    empty_database,
):
    engine = create_engine(empty_database)
    try:
        create_schema(engine)
        create_schema(engine)  # again: changes nothing, fails on nothing
        with engine.connect() as connection:
            made = _hand_made_schema(connection)
        tables = set(inspect(engine).get_table_names())
        drop_schema(engine)
        left = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert made == HAND_MADE[engine.dialect.name]
    assert {table.name for table in Base.metadata.sorted_tables} <= tables
    assert left == set()


def test_the_models_attach_no_ddl_to_table_creation():
    """create_all makes the models' tables and nothing else: the rest is create_schema's."""
    for table in Base.metadata.sorted_tables:
        assert not table.dispatch.after_create, table.name
        assert not table.dispatch.before_drop, table.name
    assert not Base.metadata.dispatch.after_create
    assert not Base.metadata.dispatch.before_drop
