"""`python app.py` on a fresh machine: it creates the database, seeds it and serves."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

PROJECT = Path(__file__).resolve().parent.parent


def wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> tuple[int, str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"app.py exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.mark.slow
def test_python_app_py_serves_the_site_from_an_empty_directory(tmp_path):
    instance = tmp_path / "instance"  # does not exist yet: nothing prepared by hand
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "SECRET_KEY", "MAIL_SERVER", "BPT311_DEMO", "MEDIA_ROOT")
    }
    env.update(INSTANCE_PATH=str(instance), PORT=str(port), HOST="127.0.0.1")
    process = subprocess.Popen(
        [sys.executable, str(PROJECT / "app.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status, home = wait_for(f"http://127.0.0.1:{port}/", process)
        assert status == 200
        assert "Report a problem" in home
        assert "Pothole" in home  # Bridgeport's categories were seeded
        assert "BPT-0" in home  # and demo reports are listed
        status, health = wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert status == 200 and '"ok"' in health
        assert (instance / "bpt311.sqlite").exists()
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert "SECRET_KEY is not set" in output  # the loud development warning
    assert "Traceback" not in output


@pytest.mark.slow
def test_second_start_reuses_the_database_without_seeding_twice(tmp_path):
    instance = tmp_path / "instance"
    env = dict(os.environ, INSTANCE_PATH=str(instance), BPT311_DEMO="0")
    env.pop("DATABASE_URL", None)
    code = (
        "from app import app\n"
        "from bpt311.cli import prepare_database\n"
        "from bpt311.extensions import db\n"
        "from bpt311.models import Category, Report\n"
        "from sqlalchemy import func, select\n"
        "with app.app_context():\n"
        "    prepare_database()\n"
        "    prepare_database()\n"
        "    print(db.session.scalar(select(func.count(Category.id))),"
        " db.session.scalar(select(func.count(Report.id))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    categories, reports = result.stdout.split()[-2:]
    assert int(categories) == 25
    assert int(reports) == 0  # BPT311_DEMO=0 skips the demo reports
