"""The documented production server: ``gunicorn -c gunicorn.conf.py app:app``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port

PROJECT = Path(__file__).resolve().parent.parent
CLEAN = ("WEB_CONCURRENCY", "HOST", "PORT", "PROMETHEUS_MULTIPROC_DIR", "GUNICORN_PRELOAD")


def settings_read(**env) -> dict:
    """What gunicorn.conf.py sets, read in a process of its own (it sets the environment)."""
    code = (
        "import json, runpy\n"
        "ns = runpy.run_path('gunicorn.conf.py')\n"
        "keys = ('bind', 'workers', 'timeout', 'preload_app', 'control_socket_disable')\n"
        "print(json.dumps({k: ns[k] for k in keys}))\n"
    )
    environment = {k: v for k, v in os.environ.items() if k not in CLEAN}
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_config_defaults_to_two_workers_per_core_plus_one_on_loopback():
    found = settings_read()
    assert found["workers"] == 2 * os.cpu_count() + 1
    assert found["bind"] == ["127.0.0.1:8000"]
    assert found["preload_app"] is False  # each worker opens its own database pool
    assert found["timeout"] >= 30
    assert found["control_socket_disable"] is True  # several gunicorns share a host


def test_config_reads_workers_and_address_from_the_environment():
    found = settings_read(WEB_CONCURRENCY="3", HOST="0.0.0.0", PORT="8123", GUNICORN_PRELOAD="1")
    assert found["workers"] == 3
    assert found["bind"] == ["0.0.0.0:8123"]
    assert found["preload_app"] is True


def get(url: str, headers: dict | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def wait_until_serving(base: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}")
        try:
            get(base + "/readyz")
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError("gunicorn did not answer")


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


@pytest.mark.parametrize("preload", ["0", "1"])
def test_the_app_serves_under_gunicorn_with_json_logs_and_summed_metrics(
    app, database_url, tmp_path, preload
):
    port = free_port()
    media = tmp_path / "media"
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="gunicorn-test-secret-key-at-least-32-bytes-long",
        BPT311_ENV="production",
        MEDIA_ROOT=str(media),
        INSTANCE_PATH=str(tmp_path / "instance"),
        PORT=str(port),
        WEB_CONCURRENCY="2",
        GUNICORN_PRELOAD=preload,
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:app"],
            cwd=PROJECT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process)
        status, body, _ = get(base + "/readyz")
        assert status == 200 and json.loads(body)["status"] == "ok"

        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda _: get(base + "/reports")[0], range(30)))
        assert statuses == [200] * 30

        status, text, _ = get(base + "/metrics")
        assert status == 200
        served = sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "bpt311_http_requests_total"
            and sample.labels["endpoint"] == "reports.index"
        )
        assert served == 30  # counted by whichever worker served them, summed at scrape

        assert len(worker_pids(process.pid)) == 2

        shutil.rmtree(media)  # make the app log a warning inside a request
        status, _, headers = get(base + "/readyz", {"X-Request-ID": "probe-00c0ffee"})
        assert status == 503
        assert headers["X-Request-ID"] == "probe-00c0ffee"
    finally:
        process.terminate()
        process.wait(timeout=30)

    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    access = [line for line in lines if line.get("logger") == "gunicorn.access"]
    assert len(access) >= 33
    assert {line["request_id"] for line in access if line["path"] == "/readyz"} >= {
        "probe-00c0ffee"
    }
    warnings = [line for line in lines if line.get("logger") == "bpt311.ops.readiness"]
    assert warnings and warnings[-1]["request_id"] == "probe-00c0ffee"
    assert warnings[-1]["level"] == "WARNING"
    assert not any("Traceback" in line.get("message", "") for line in lines)
