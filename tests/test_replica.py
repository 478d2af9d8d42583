"""DATABASE_REPLICA_URL: the public list, map and exports read from the replica, while
every write (and a report's own page) goes to the primary.

The "replica" here is a second database with different contents, so a page shows
which one it read."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from bpt311 import create_app
from bpt311.extensions import db
from bpt311.models import Report, create_schema
from bpt311.ops import replica
from bpt311.seed import load_city
from tests.conftest import app_settings, wipe_tables
from tests.factories import make_report
from tests.test_reporting import form_data, post

ON_PRIMARY = "Pothole only the primary knows about"
ON_REPLICA = "Pothole only the replica knows about"


@pytest.fixture
def replica_url(database_url, tmp_path):
    """A second, empty database of the engine under test, with the schema."""
    if database_url.startswith("postgresql"):
        url = make_url(database_url)
        name = f"{url.database}_replica"
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        found = url.set(database=name).render_as_string(hide_password=False)
    else:
        admin = None
        found = "sqlite:///" + str(tmp_path / f"replica-{uuid.uuid4().hex[:6]}.sqlite")
    engine = create_engine(found)
    create_schema(engine)
    engine.dispose()
    yield found
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def replica_contents(replica_url, tmp_path):
    """Fill the replica as replication would have: the city and one report of its own."""
    writer = create_app(app_settings(replica_url, tmp_path))
    with writer.app_context():
        load_city()
        make_report(description=ON_REPLICA)
    yield
    with writer.app_context():
        wipe_tables()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def primary(make_app, replica_url, replica_contents, smtp):
    app = make_app(DATABASE_REPLICA_URL=replica_url, **smtp.settings)
    with app.app_context():
        load_city()
        make_report(description=ON_PRIMARY)
        yield app
        replica.dispose(app)


def test_list_and_map_read_from_the_replica(primary):
    client = primary.test_client()
    for path in ("/reports", "/map", "/reports?q=pothole"):
        page = client.get(path).get_data(as_text=True)
        assert ON_REPLICA in page, path
        assert ON_PRIMARY not in page, path

    export = client.get("/reports.geojson").get_data(as_text=True)
    assert ON_REPLICA in export and ON_PRIMARY not in export
    assert ON_REPLICA in client.get("/reports.csv").get_data(as_text=True)


def test_writes_go_to_the_primary_and_its_report_page_shows_them_at_once(primary):
    client = primary.test_client()
    data = form_data(client, description="A brand new pothole by the school.", not_duplicate="1")
    response = post(client, data)
    assert response.status_code == 303

    found = db.session.scalars(
        select(Report).where(Report.description == "A brand new pothole by the school.")
    ).one()
    page = client.get(f"/reports/{found.tracking_number}").get_data(as_text=True)
    assert "A brand new pothole by the school." in page  # read-your-writes on the primary

    engine = replica.replica_engine(primary)
    with engine.connect() as connection:
        on_replica = connection.scalar(
            select(func.count(Report.id)).where(Report.description.like("A brand new%"))
        )
    assert on_replica == 0
    assert "A brand new pothole" not in client.get("/reports").get_data(as_text=True)


def test_the_replica_session_refuses_to_write(primary):
    from bpt311.models import Neighbourhood

    with primary.test_request_context("/reports"):
        session = replica.reader()
        assert session is not db.session
        session.add(Neighbourhood(name="Nowhere", slug="nowhere"))
        with pytest.raises(replica.ReplicaIsReadOnly):
            session.flush()


def test_readyz_checks_the_replica_too(primary):
    response = primary.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["replica"] == "ok"


def test_without_a_replica_the_list_reads_the_primary(make_app):
    app = make_app()
    with app.app_context():
        load_city()
        make_report(description=ON_PRIMARY)
        page = app.test_client().get("/reports").get_data(as_text=True)
    assert ON_PRIMARY in page


def test_the_figures_read_from_the_replica(primary):
    make_report(description="A second pothole, on the primary only")
    client = primary.test_client()
    rows = client.get("/stats/weeks.csv").get_data(as_text=True).splitlines()
    header, *weeks = [row.split(",") for row in rows]
    received = header.index(next(name for name in header if "eceived" in name))
    assert sum(int(week[received] or 0) for week in weeks) == 1  # the replica's one report
