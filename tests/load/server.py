"""The app under gunicorn on loopback for the load and fault tests, and signed-in
browsers made without typing passwords (a session cookie signed with the app's key)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import CSRF_RE, free_port

ROOT = Path(__file__).resolve().parents[2]
SECRET_KEY = "test-secret-key"  # the same as tests/conftest.py, so forged sessions verify


def server_env(database_url: str, media_root: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "MEDIA_ROOT": str(media_root),
        "SITE_URL": "http://bpt311.test",
        "MAIL_SERVER": "",
        "GEOCODER_URL": "http://127.0.0.1:9",
        "BPT311_DEMO": "0",
        "BPT311_ENV": "development",
        "RATELIMIT_STORAGE_URI": "memory://",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("WERKZEUG_RUN_MAIN", None)
    env.update(extra)
    return env


@contextlib.contextmanager
def gunicorn(database_url: str, media_root: Path, log_path: Path, workers: int = 4, **extra):
    """gunicorn with command-line flags only (its production config file is not read)."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "--config", "/dev/null",
        "-w", str(workers), "-b", f"127.0.0.1:{port}", "--timeout", "60",
        "--graceful-timeout", "5", "bpt311:create_app()",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=server_env(database_url, media_root, **extra),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.2)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def session_cookie(app, user_id: str) -> str:
    """The cookie Flask-Login would set after a password check, signed with the app's key;
    ``user_id`` is what ``User.get_id()`` gives."""
    with app.test_request_context():
        serializer = app.session_interface.get_signing_serializer(app)
        return serializer.dumps({"_user_id": user_id, "_fresh": True})


def browser(base: str, app=None, user: str | None = None) -> tuple[requests.Session, str]:
    """A requests session (signed in as ``user``, a ``get_id()``) and its CSRF token."""
    session = requests.Session()
    if user is not None:
        name = app.config.get("SESSION_COOKIE_NAME", "session")
        # host-only on 127.0.0.1 like the server's own, so its Set-Cookie replaces this one
        session.cookies.set(name, session_cookie(app, user), domain="127.0.0.1", path="/")
    page = session.get(f"{base}/developers", timeout=30).text  # a light page with the token
    match = CSRF_RE.search(page)
    assert match, "the page carries no CSRF token"
    return session, match.group(1)


def server_errors(log_path: Path) -> list[str]:
    """Tracebacks in the server's log: there should be none."""
    text = log_path.read_text(errors="replace")
    return [line for line in text.splitlines() if "Traceback" in line or "Unhandled error" in line]
