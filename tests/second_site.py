"""Another bpt311, in its own process on loopback with its own SQLite database: the city's
earlier system for the import tests, its work-order system for the outbound tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import requests

from bpt311 import create_app
from bpt311.extensions import db
from tests.conftest import app_settings, free_port

PROJECT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def running_bpt311(tmp_path: Path, fill: Callable[[], object]) -> Iterator[tuple[str, str, object]]:
    """Make its database (migrations, the city, then ``fill()`` inside its app context),
    start it, and yield (its address, its database URL, what ``fill`` returned)."""
    from bpt311.cli import prepare_database

    url = "sqlite:///" + str(tmp_path / "second.sqlite")
    other = create_app(app_settings(url, tmp_path / "fill-instance", DEMO_REPORTS=False))
    with other.app_context():
        prepare_database(demo_reports=0)
        filled = fill()
        db.session.commit()
        db.engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "BPT311_DEMO": "0",
        "SECRET_KEY": "second-site-secret-key-of-enough-length",
        "GEOCODER_URL": "http://127.0.0.1:9",
        "RATELIMIT_ENABLED": "0",
        "INSTANCE_PATH": str(tmp_path / "instance"),
    }
    env.pop("TEST_DATABASE_URL", None)
    log_path = tmp_path / "second.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "run", "--host", "127.0.0.1"]
            + ["--port", str(port), "--no-reload", "--with-threads"],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):  # a loaded build machine may take a while to start it
                try:
                    if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.1)
            else:
                raise RuntimeError(log_path.read_text())
            yield base, url, filled
        finally:
            process.terminate()
            process.wait(timeout=10)
