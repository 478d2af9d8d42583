"""Operations: readiness that turns unhealthy and back, Prometheus metrics, request ids,
JSON logs, and a site that keeps serving when Redis is down."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import time

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from bpt311 import create_app
from bpt311.extensions import db, limiter
from bpt311.models import Outbox
from bpt311.ops.logs import JsonFormatter, TextFormatter
from tests.conftest import app_settings, csrf_token_from, free_port
from tests.test_reporting import form_data, jpeg, post

REDIS_SERVER = shutil.which("redis-server")


@pytest.fixture
def own_redis():
    """A Redis of our own on a free loopback port, which the test may stop and start."""
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed")
    port = free_port()
    processes = []

    def start():
        process = subprocess.Popen(
            [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
            + ["--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        processes.append(process)
        client = redis.Redis(port=port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop():
        process = processes[-1]
        process.terminate()
        process.wait(timeout=10)

    start()
    yield type("OwnRedis", (), {"url": f"redis://127.0.0.1:{port}/0", "start": start, "stop": stop})
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def limiter_state():
    """The limiter is one object per process; a test that kills its storage must not
    leave the next test counting in the fallback memory."""
    yield
    limiter._storage_dead = False
    fallback = getattr(limiter, "_fallback_storage", None)
    if fallback is not None:
        fallback.reset()


def metric_samples(client, **environ) -> dict:
    response = client.get("/metrics", environ_base=environ)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


# ---- readiness -------------------------------------------------------------------------


def test_readyz_reports_each_check_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "media": "ok"}}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_turns_unhealthy_when_redis_stops_and_recovers_when_it_returns(make_app, own_redis):
    app = make_app(REDIS_URL=own_redis.url)
    client = app.test_client()
    assert client.get("/readyz").json["checks"]["redis"] == "ok"

    own_redis.stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert "Redis did not answer" in response.json["checks"]["redis"]
    assert response.json["checks"]["database"] == "ok"

    own_redis.start()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"]["redis"] == "ok"


def test_readyz_turns_unhealthy_without_its_media_folder_and_back(make_app, tmp_path):
    media = tmp_path / "media-volume"
    app = make_app(MEDIA_ROOT=str(media))
    client = app.test_client()
    assert client.get("/readyz").status_code == 200

    shutil.rmtree(media)  # the volume was unmounted
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "media folder is not writable" in response.json["checks"]["media"]

    media.mkdir()
    assert client.get("/readyz").status_code == 200
    assert list(media.iterdir()) == []  # the probe leaves nothing behind


def test_readyz_is_unavailable_when_the_database_is(tmp_path, database_url):
    if database_url.startswith("sqlite"):
        broken = "sqlite:///" + str(tmp_path / "missing-dir" / "nested" / "db.sqlite")
    else:
        broken = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    app = create_app(app_settings(broken, tmp_path))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert "database did not answer" in response.json["checks"]["database"]
    assert response.json["checks"]["media"] == "ok"


def test_readyz_reports_a_redis_that_is_down_without_hanging(make_app):
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/14")
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert time.monotonic() - started < 3


# ---- metrics ---------------------------------------------------------------------------


def test_metrics_count_requests_by_endpoint_and_status(client):
    key = ("bpt311_http_requests_total", (("endpoint", "reports.index"), ("method", "GET")))
    before = metric_samples(client)
    ok = (key[0], tuple(sorted((*key[1], ("status", "200")))))
    missing = (key[0], (("endpoint", "unmatched"), ("method", "GET"), ("status", "404")))
    latency = (
        "bpt311_http_request_duration_seconds_count",
        (("endpoint", "reports.index"), ("status", "200")),
    )
    for _ in range(3):
        assert client.get("/reports").status_code == 200
    assert client.get("/no-such-page").status_code == 404

    after = metric_samples(client)
    assert after[ok] - before.get(ok, 0) == 3
    assert after[missing] - before.get(missing, 0) == 1
    assert after[latency] - before.get(latency, 0) == 3
    bucket = (
        "bpt311_http_request_duration_seconds_bucket",
        (("endpoint", "reports.index"), ("le", "+Inf"), ("status", "200")),
    )
    assert after[bucket] == after[latency]


def test_metrics_show_the_outbox_backlog_from_the_database(client, app):
    for status in ("pending", "pending", "dead", "sent"):
        db.session.add(Outbox(status=status, recipient="a@example.org", subject="s", body_text="b"))
    db.session.commit()
    samples = metric_samples(client)
    assert samples[("bpt311_outbox_emails", (("status", "pending"),))] == 2
    assert samples[("bpt311_outbox_emails", (("status", "dead"),))] == 1


def test_metrics_are_refused_to_other_addresses(make_app):
    app = make_app()
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # loopback is allowed by default
    refused = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert refused.status_code == 404
    assert "bpt311_http" not in refused.get_data(as_text=True)

    app = make_app(METRICS_ALLOWED_IPS="10.0.0.0/8, 192.0.2.5")
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.5"}).status_code == 200
    assert client.get("/metrics").status_code == 404


# ---- request ids and logs ----------------------------------------------------------------


def test_a_sane_request_id_is_echoed_and_others_are_replaced(client):
    response = client.get("/reports", headers={"X-Request-ID": "lb-7f3a9c21-0001"})
    assert response.headers["X-Request-ID"] == "lb-7f3a9c21-0001"

    for bad in ("short", "has spaces in it ok", "x" * 200, "<script>alert(1)</script>"):
        echoed = client.get("/", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert echoed != bad and len(echoed) == 32

    first = client.get("/").headers["X-Request-ID"]
    second = client.get("/").headers["X-Request-ID"]
    assert first != second


def test_every_log_line_of_a_request_carries_its_id_as_json(make_app, tmp_path, caplog):
    media = tmp_path / "gone"
    app = make_app(MEDIA_ROOT=str(media))
    client = app.test_client()
    shutil.rmtree(media)
    with caplog.at_level(logging.WARNING):
        response = client.get("/readyz", headers={"X-Request-ID": "trace-0000feed"})
    assert response.status_code == 503
    lines = [r for r in caplog.records if r.name.startswith("bpt311")]
    assert lines and all(record.request_id == "trace-0000feed" for record in lines)

    parsed = json.loads(JsonFormatter().format(lines[0]))
    assert parsed["request_id"] == "trace-0000feed"
    assert parsed["level"] == "WARNING"
    assert "media folder" in parsed["message"]
    assert "[trace-0000feed]" in TextFormatter().format(lines[0])


def test_log_lines_outside_a_request_have_no_id():
    record = logging.getLogger("bpt311.test").makeRecord(
        "bpt311.test", logging.INFO, __file__, 1, "worker pass", (), None
    )
    assert "request_id" not in json.loads(JsonFormatter().format(record))


def test_log_format_is_json_in_production_and_text_on_a_laptop(monkeypatch, tmp_path):
    from bpt311 import config

    monkeypatch.setenv("BPT311_ENV", "production")
    assert config.from_environment(str(tmp_path))["LOG_FORMAT"] == "json"
    monkeypatch.setenv("BPT311_ENV", "development")
    assert config.from_environment(str(tmp_path))["LOG_FORMAT"] == "text"
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    assert config.from_environment(str(tmp_path))["LOG_FORMAT"] == "json"


def test_redis_url_becomes_the_rate_limit_storage_unless_one_is_given(monkeypatch, tmp_path):
    from bpt311 import config

    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/2")
    assert config.from_environment(str(tmp_path))["RATELIMIT_STORAGE_URI"] == (
        "redis://cache.internal:6379/2"
    )
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://limits.internal:6379/0")
    assert config.from_environment(str(tmp_path))["RATELIMIT_STORAGE_URI"] == (
        "redis://limits.internal:6379/0"
    )


def test_pool_settings_apply_to_postgresql_only(monkeypatch, tmp_path):
    from bpt311 import config

    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")
    monkeypatch.setenv("DATABASE_MAX_OVERFLOW", "1")
    monkeypatch.setenv("DATABASE_POOL_RECYCLE", "600")
    options = config.engine_options("postgresql+psycopg://db.internal/bpt311")
    assert options["pool_size"] == 3 and options["max_overflow"] == 1
    assert options["pool_recycle"] == 600 and options["pool_pre_ping"] is True
    assert config.engine_options("sqlite:///x.sqlite") == {"pool_pre_ping": True}


# ---- Redis down: the site keeps serving ----------------------------------------------------


def test_with_redis_down_pages_and_reporting_work_and_limits_fail_safe(
    make_app, smtp, tmp_path, limiter_state
):
    from bpt311.seed import load_city

    down = f"redis://127.0.0.1:{free_port()}/14"
    app = make_app(REDIS_URL=down, RATELIMIT_STORAGE_URI=down, **smtp.settings)
    with app.app_context():
        load_city()
        client = app.test_client()
        assert client.get("/").status_code == 200
        assert client.get("/reports").status_code == 200
        assert client.get("/readyz").status_code == 503  # the balancer is told, nothing breaks

        response = post(
            client, form_data(client, photos=[jpeg()], contact_email="guest@example.org")
        )
        assert response.status_code == 303
        assert "/submitted" in response.headers["Location"]
        assert client.get(response.headers["Location"]).status_code == 200

        # Sign-in allows 10 attempts a minute: still enforced, in this process's memory.
        token = csrf_token_from(client, "/sign-in")
        answers = [
            client.post(
                "/sign-in",
                data={"csrf_token": token, "email": "x@example.org", "password": "wrong-password"},
            ).status_code
            for _ in range(11)
        ]
        assert 500 not in answers
        assert answers[:10].count(429) == 0
        assert answers[10] == 429
