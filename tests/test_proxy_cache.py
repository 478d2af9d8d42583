"""A shared cache in front: Debian's nginx with docs/nginx-cache.conf (the file the
deployment guide gives) before three app processes sharing one database. Anonymous
public pages are served from nginx's cache; a signed-in page never is, and one
person's page never reaches another."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import PROJECT, app_process_env, free_port, start_gunicorn
from tests.factories import make_report, make_user
from tests.test_cluster import session_cookie, wait_for_readiness

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (apt nginx)"),
]


def nginx_config(run: Path, listen: int, upstreams: list[int]) -> Path:
    text = (PROJECT / "docs" / "nginx-cache.conf").read_text()
    text = text.replace("@RUN@", str(run)).replace("@LISTEN@", f"127.0.0.1:{listen}")
    text = text.replace("@UPSTREAMS@", " ".join(f"server 127.0.0.1:{p};" for p in upstreams))
    path = run / "nginx.conf"
    path.write_text(text)
    return path


@pytest.fixture
def behind_nginx(site, database_url, tmp_path):
    """Three gunicorns (one worker each) behind nginx; yields nginx's address."""
    ports = [free_port() for _ in range(3)]
    env = app_process_env(
        DATABASE_URL=database_url,
        SECRET_KEY=site.config["SECRET_KEY"],
        INSTANCE_PATH=str(tmp_path / "instance"),
        GEOCODER_URL="http://127.0.0.1:9",
        BPT311_DEMO="0",
        WEB_CONCURRENCY="1",
        PUBLIC_CACHE="1",
        RATELIMIT_ENABLED="0",
        PYTHONUNBUFFERED="1",
    )
    run = tmp_path / "nginx"
    run.mkdir()
    listen = free_port()
    processes = []
    logs = open(tmp_path / "cluster.log", "w")  # noqa: SIM115  (closed in finally)
    try:
        for port in ports:
            processes.append(start_gunicorn(port, env, tmp_path / f"media-{port}", logs))
        wait_for_readiness([f"http://127.0.0.1:{port}" for port in ports], processes)
        config = nginx_config(run, listen, ports)
        processes.append(
            subprocess.Popen(
                [NGINX, "-p", str(run), "-c", str(config), "-g", "daemon off; user root;"],
                stdout=logs,
                stderr=subprocess.STDOUT,
            )
        )
        base = f"http://127.0.0.1:{listen}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/healthz", timeout=5)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, (run / "error.log").read_text()
                time.sleep(0.2)
        yield base
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()


def fetch(base: str, path: str, cookie: str = "") -> requests.Response:
    headers = {"Accept-Encoding": "gzip"}
    if cookie:
        headers["Cookie"] = f"session={cookie}"
    return requests.get(base + path, headers=headers, timeout=30)


def test_anonymous_pages_come_from_the_proxy_and_signed_in_pages_never_do(site, behind_nginx):
    report = make_report(description="Street light out on the corner of Main and Fairfield.")
    ana, ben = make_user("ana-proxytest@example.org"), make_user("ben-proxytest@example.org")
    ana_cookie, ben_cookie = session_cookie(site, ana), session_cookie(site, ben)
    page = f"/reports/{report.tracking_number}"

    # Anonymous: the second visitor is served by nginx, without any cookie.
    first = fetch(behind_nginx, page)
    assert first.status_code == 200 and "Set-Cookie" not in first.headers
    again = [fetch(behind_nginx, page) for _ in range(3)]
    assert "HIT" in {r.headers.get("X-Cache-Status") for r in again}
    assert all("proxytest" not in r.text for r in again)

    # Signed in, on the same public page and on their own: never from the cache, and
    # each sees only themselves, one after the other, many times.
    for _ in range(3):
        for me, other, cookie in (("ana", "ben", ana_cookie), ("ben", "ana", ben_cookie)):
            for path in (page, "/me", "/"):
                response = fetch(behind_nginx, path, cookie)
                assert response.status_code == 200, (path, response.status_code)
                assert response.headers.get("X-Cache-Status") != "HIT", path
                assert "private" in response.headers.get("Cache-Control", ""), path
                assert f"{other}-proxytest" not in response.text, path
                if path == "/me":
                    assert f"{me}-proxytest@example.org" in response.text

    # And nothing a signed-in person saw was stored for the anonymous.
    for path in (page, "/"):
        assert "proxytest" not in fetch(behind_nginx, path).text
