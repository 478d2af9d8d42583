"""Shared fixtures: an app on a fresh database per test, SQLite by default,
PostgreSQL when TEST_DATABASE_URL says so."""

from __future__ import annotations

import contextvars
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from bpt311 import create_app
from bpt311.extensions import db
from bpt311.models import Base, create_schema, drop_schema
from tests.factories import department, make_staff, make_user, sign_in_as


def _database_for_this_worker(url: str) -> str:
    """Under pytest-xdist each worker gets its own PostgreSQL database, made fresh here
    beside the one TEST_DATABASE_URL names (SQLite files are per worker already)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker or not url.startswith("postgresql"):
        return url
    from sqlalchemy import create_engine, make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_worker_database(url: str) -> None:
    if url == os.environ.get("TEST_DATABASE_URL", "").strip() or not url:
        return
    from sqlalchemy import create_engine, make_url

    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


TEST_DATABASE_URL = _database_for_this_worker(os.environ.get("TEST_DATABASE_URL", "").strip())
# The browser suite checks what the browser gets (HTML, CSS, scripts, axe, keyboard), which
# does not depend on the database engine: it runs in the SQLite pass, and again on
# PostgreSQL only when asked (BROWSER_TESTS_ON_POSTGRESQL=1), to keep CI well under 30 minutes.
collect_ignore_glob = (
    ["browser/*"]
    if TEST_DATABASE_URL.startswith("postgresql")
    and not os.environ.get("BROWSER_TESTS_ON_POSTGRESQL")
    else []
)


def pytest_sessionfinish(session, exitstatus):
    _drop_worker_database(TEST_DATABASE_URL)


def app_settings(database_url: str, tmp_path: Path, **overrides) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "SITE_URL": "http://bpt311.test",
        "MAIL_SERVER": "",
        "GEOCODER_URL": "http://127.0.0.1:9",  # nothing listens: tests never reach the internet
        "DEMO_REPORTS": False,
        "PUBLIC_CACHE": False,  # tests/test_public_cache.py turns it on
        "FILTER_CHOICES_SECONDS": 0,  # read every time; tests/test_browse.py keeps them
        **overrides,
    }


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite")


@pytest.fixture(scope="session")
def _schema(database_url, tmp_path_factory):
    """Create the tables once per run; each test then starts from empty tables."""
    app = create_app(app_settings(database_url, tmp_path_factory.mktemp("schema")))
    with app.app_context():
        drop_schema(db.engine)
        with db.engine.begin() as connection:
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        create_schema(db.engine)
        db.engine.dispose()


def wipe_tables() -> None:
    tables = [table.name for table in Base.metadata.sorted_tables]
    with db.engine.begin() as connection:
        if db.engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in tables)
            connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for name in reversed(tables):
                connection.execute(text(f'DELETE FROM "{name}"'))
            connection.execute(text("DELETE FROM sqlite_sequence"))


class IsolatedClient(FlaskClient):
    """A test client whose every request gets its own app context, as in production.

    The fixtures keep an app context open for the test's own database work, and Flask
    would otherwise run requests inside it, sharing ``g`` and the database session
    between requests and clients, which hides exactly the bugs tests look for.
    """

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)  # a streamed body is read inside the same context
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def make_app(database_url, _schema, tmp_path):
    """Build an app with extra settings; tables are emptied after the test."""
    made = []

    def factory(**overrides):
        app = create_app(app_settings(database_url, tmp_path, **overrides))
        app.test_client_class = IsolatedClient
        made.append(app)
        return app

    yield factory
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if made:
        with made[0].app_context():
            wipe_tables()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def city(app):
    """Bridgeport's departments, categories and neighbourhoods."""
    from bpt311.seed import load_city

    load_city()
    return app


CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')


def csrf_token_from(client, path: str = "/") -> str:
    """The CSRF token a page gives its forms, as a browser would read it. The public pages
    a visitor not signed in gets carry none (they are cached for everybody): for the home
    page such a visitor's token comes from the sign-in page, as a form of theirs would."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    if match is None and path == "/":
        match = CSRF_RE.search(client.get("/sign-in").get_data(as_text=True))
    assert match, "the page carries no CSRF token"
    return match.group(1)


PROJECT = Path(__file__).resolve().parent.parent


def app_process_env(**settings: str) -> dict[str, str]:
    """The environment of an app process a test starts (gunicorn, a worker): this one's,
    less what belongs to the test run itself, plus ``settings``."""
    own = ("PROMETHEUS_MULTIPROC_DIR", "RATELIMIT_STORAGE_URI", "DATABASE_REPLICA_URL")
    env = {k: v for k, v in os.environ.items() if k not in own}
    env.update(settings)
    return env


def start_gunicorn(port: int, env: dict[str, str], media: Path, log) -> subprocess.Popen:
    """The app under gunicorn.conf.py on 127.0.0.1:``port``, with its own media folder."""
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"],
        cwd=PROJECT,
        env={**env, "PORT": str(port), "MEDIA_ROOT": str(media)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class QueryCounter:
    """Counts the SQL statements an engine runs inside a ``with`` block."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def _count(self, conn, cursor, statement, *args):
        self.statements.append(statement)

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._count)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    return lambda: QueryCounter(db.engine)


@pytest.fixture
def smtp():
    """A real SMTP server on loopback that collects what the app sends."""
    from tests.smtp import SMTPServer

    with SMTPServer() as server:
        yield server


@pytest.fixture
def site(make_app, smtp):
    """The app with Bridgeport's catalogue, sending email to the loopback server."""
    app = make_app(**smtp.settings)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app


class ObjectStore:
    """A real S3-compatible server (moto's, in a thread) on loopback, with a bucket of
    its own; ``stop()`` and ``start()`` take it down and bring it back on the same port
    (moto keeps its buckets in this process meanwhile)."""

    def __init__(self):
        import uuid

        import boto3

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = f"bpt311-{uuid.uuid4().hex[:12]}"
        self.server = None
        self.start()
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="test-key",
            aws_secret_access_key="test-secret",
            region_name="us-east-1",
        )
        self.client.create_bucket(Bucket=self.bucket)

    @property
    def settings(self) -> dict:
        """What an app (or, as environment variables, a process) needs to use it."""
        return {
            "MEDIA_STORAGE": "s3",
            "S3_BUCKET": self.bucket,
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_ACCESS_KEY_ID": "test-key",
            "S3_SECRET_ACCESS_KEY": "test-secret",
            "S3_REGION": "us-east-1",
        }

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def names(self) -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def read(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=name)["Body"].read()


@pytest.fixture
def object_store():
    store = ObjectStore()
    yield store
    store.stop()


def client_for(site, user=None):
    """A browser of ``site``, signed in as ``user`` when one is given."""
    client = site.test_client()
    if user is not None:
        sign_in_as(client, user)
    return client


def post_form(client, path, data=None, headers=None, **kwargs):
    """POST as a page's form would: with the CSRF token the page gave."""
    token = csrf_token_from(client)
    return client.post(
        path, data={"csrf_token": token, **(data or {})}, headers=headers or {}, **kwargs
    )


# The headers of a request htmx makes: the answer is a partial, not the whole page.
HTMX = {"HX-Request": "true"}


# ---- the people most tests need, on the seeded site --------------------------------------


@pytest.fixture
def admin(site):
    return make_user("admin@bridgeport.example", role="admin", display_name="Ada Admin")


@pytest.fixture
def roads_department(site):
    """Roadway Maintenance, the department potholes go to."""
    return department("Roadway Maintenance")


@pytest.fixture
def clerk(site):
    """Staff of Roadway Maintenance."""
    return make_staff("clerk@bridgeport.example", display_name="Pat Clerk")


@pytest.fixture
def blight_clerk(site):
    """Staff of another department than the potholes'."""
    return make_staff("blight@bridgeport.example", "Anti-Blight")


@pytest.fixture
def maria(site):
    """A resident who shows her name."""
    return make_user("maria@example.org", display_name="Maria", show_name=True)


@pytest.fixture
def luis(site):
    """Another resident."""
    return make_user("luis@example.org", display_name="Luis")


# Redis database 13, for the job-queue tests (tests/test_jobs.py, tests/test_watch_jobs.py).
JOBS_REDIS_URL = os.environ.get("TEST_JOBS_REDIS_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
def jobs_prefix():
    """Our own queue names and job ids in Redis database 13, deleted afterwards: runs at
    once (SQLite and PostgreSQL, or parallel workers) never see each other's jobs."""
    import redis

    from bpt311.jobs import tasks

    client = redis.Redis.from_url(JOBS_REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {JOBS_REDIS_URL}")
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    tasks.worker_app = None
    for key in client.scan_iter(f"*{name}*"):
        client.delete(key)
    for registry in ("rq:queues", "rq:workers"):
        for member in client.smembers(registry):
            if name.encode() in member:
                client.srem(registry, member)
