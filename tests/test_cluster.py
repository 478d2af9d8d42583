"""Three app processes on one machine, as on three hosts: gunicorn (two workers each) on
three ports sharing one database, one Redis and one S3-compatible object store for
media (moto's server on loopback; each process has its own media folder), two outbox workers
and a loopback SMTP server. Reports with photos, votes and comments go to all three at
once; every vote counts once, the rate limit holds across processes, every email is
sent once and every photo is readable from every process."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests
from PIL import Image
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import Media, Outbox, Report, Vote
from tests.conftest import CSRF_RE, PROJECT, app_process_env, free_port, start_gunicorn
from tests.factories import CITY_HALL, make_report, make_user

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
VOTERS = 12
COMMENTERS = 6
REPORTS = 6
SIGN_IN_LIMIT = 10  # accounts.throttle: 10 failures a minute per address (and account)
FIELD = re.compile(r'name="(csrf_token|submission_key)"[^>]*value="([^"]*)"')

pytestmark = pytest.mark.slow


@pytest.fixture
def redis_db():
    """Our Redis database (14 by default): emptied before and after, never another one."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis at {REDIS_URL}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()


def photo_bytes(shade: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (shade, 90, 60)).save(buffer, "JPEG")
    return buffer.getvalue()


def wait_for_readiness(bases: list[str], processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 120
    waiting = set(bases)
    while waiting and time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        for base in list(waiting):
            try:
                if requests.get(base + "/readyz", timeout=10).status_code == 200:
                    waiting.discard(base)
            except requests.RequestException:
                pass
        time.sleep(0.3)
    assert not waiting, f"not ready: {waiting}"


def session_cookie(app, user) -> str:
    """A browser signed in as ``user``: the signed session cookie any process accepts."""
    serializer = app.session_interface.get_signing_serializer(app)
    return serializer.dumps({"_user_id": user.get_id(), "_fresh": True})


def csrf_token(browser: requests.Session, url: str) -> str:
    page = browser.get(url, timeout=30).text
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def test_three_processes_share_votes_limits_emails_and_photos(
    site, smtp, database_url, redis_db, object_store, tmp_path
):
    report = make_report(description="Street light out on the corner of Main and Fairfield.")
    number = report.tracking_number
    voters = [make_user(f"voter{n}@example.org") for n in range(VOTERS)]
    cookies = [session_cookie(site, voter) for voter in voters]

    ports = [free_port() for _ in range(3)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    env = app_process_env(
        DATABASE_URL=database_url,
        SECRET_KEY=site.config["SECRET_KEY"],  # one key: a cookie from one host works on all
        REDIS_URL=redis_db,
        **object_store.settings,  # media shared through the object store, not a folder
        INSTANCE_PATH=str(tmp_path / "instance"),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp.port),
        GEOCODER_URL="http://127.0.0.1:9",
        BPT311_DEMO="0",
        WEB_CONCURRENCY="2",
        LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    processes = []
    logs = open(tmp_path / "cluster.log", "w")  # noqa: SIM115  (closed in finally)
    try:
        for port in ports:
            processes.append(start_gunicorn(port, env, tmp_path / f"media-{port}", logs))
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "flask", "--app", "app", "notify", "run"]
                    + ["--interval", "0.5"],
                    cwd=PROJECT,
                    env=env,
                    stdout=logs,
                    stderr=subprocess.STDOUT,
                )
            )
        wait_for_readiness(bases, processes)

        def send_report(n: int) -> int:
            browser = requests.Session()
            page = browser.get(f"{bases[n % 3]}/reports/new?category=pothole", timeout=30).text
            fields = dict(FIELD.findall(page))
            response = browser.post(  # the form came from one process, is posted to another
                f"{bases[(n + 1) % 3]}/reports/new",
                data={
                    **fields,
                    "category": "pothole",
                    "description": f"Pothole number {n} in the bus lane, deep and growing.",
                    "latitude": str(CITY_HALL[0] + n * 0.004),
                    "longitude": str(CITY_HALL[1]),
                    "answer_size": "medium",
                    "contact_email": f"guest{n}@example.org",
                    "not_duplicate": "1",
                },
                files={"photos": (f"pothole{n}.jpg", photo_bytes(40 * n), "image/jpeg")},
                allow_redirects=False,
                timeout=60,
            )
            return response.status_code

        def vote(n: int) -> list[int]:
            browser = requests.Session()
            browser.cookies.set("session", cookies[n], domain="127.0.0.1", path="/")
            token = csrf_token(browser, f"{bases[n % 3]}/reports/{number}")
            # A double click that lands on two different processes.
            return [
                browser.post(
                    f"{bases[(n + k) % 3]}/reports/{number}/vote",
                    data={"csrf_token": token, "wanted": "1"},
                    allow_redirects=False,
                    timeout=60,
                ).status_code
                for k in (1, 2)
            ]

        def comment(n: int) -> int:
            browser = requests.Session()
            browser.cookies.set("session", cookies[n], domain="127.0.0.1", path="/")
            token = csrf_token(browser, f"{bases[(n + 2) % 3]}/reports/{number}")
            return browser.post(
                f"{bases[n % 3]}/reports/{number}/comments",
                data={"csrf_token": token, "body": f"Still broken tonight, neighbour {n}."},
                allow_redirects=False,
                timeout=60,
            ).status_code

        with ThreadPoolExecutor(max_workers=9) as pool:
            reports = [pool.submit(send_report, n) for n in range(REPORTS)]
            votes = [pool.submit(vote, n) for n in range(VOTERS)]
            comments = [pool.submit(comment, n) for n in range(COMMENTERS)]
            assert [f.result() for f in reports] == [303] * REPORTS
            voted = [code for f in votes for code in f.result()]
            assert set(voted) <= {200, 303}, voted
            assert [f.result() for f in comments] == [303] * COMMENTERS

        # The sign-in limit counts in Redis: the 11th attempt is refused wherever it lands.
        browser = requests.Session()
        token = csrf_token(browser, f"{bases[0]}/sign-in")

        def sign_in(n: int) -> int:
            return browser.post(
                f"{bases[n % 3]}/sign-in",
                data={"csrf_token": token, "email": "nobody@example.org", "password": "wrong-pw-1"},
                allow_redirects=False,
                timeout=60,
            ).status_code

        # One after another, each on the next process: what is shared is the count.
        # (Failures are counted once the password is checked, so guesses in flight at the
        # very same moment may each get their try: bpt311/accounts/throttle.py.)
        attempts = [sign_in(n) for n in range(SIGN_IN_LIMIT + 6)]
        assert attempts.count(429) == 6, attempts
        assert 500 not in attempts

        # Every vote counted once, every comment once.
        db.session.expire_all()
        counted = db.session.get(Report, report.id)
        assert counted.vote_count == VOTERS
        assert db.session.scalar(select(func.count()).where(Vote.report_id == report.id)) == VOTERS
        assert counted.comment_count == COMMENTERS

        # Every email sent once, by one of the two workers.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            db.session.rollback()
            pending = db.session.scalar(
                select(func.count(Outbox.id)).where(Outbox.status != "sent")
            )
            if pending == 0:
                break
            time.sleep(0.5)
        rows = db.session.scalars(select(Outbox)).all()
        assert len(rows) >= REPORTS  # a receipt for each guest report at least
        assert {row.status for row in rows} == {"sent"}
        time.sleep(1.5)  # three more worker passes: nothing may be sent again
        ids = [message["Message-ID"] for _, message in smtp.mailbox.messages]
        assert len(ids) == len(rows) == len(set(ids))
        for n in range(REPORTS):
            assert len(smtp.mailbox.to(f"guest{n}@example.org")) == 1

        # Every photo, stored by whichever process took its report, is served by all.
        names = db.session.scalars(select(Media.file_name).where(Media.kind == "photo")).all()
        assert len(names) == REPORTS
        for name in names:
            answers = [requests.get(f"{base}/media/{name}", timeout=30) for base in bases]
            assert [answer.status_code for answer in answers] == [200, 200, 200]
            assert [len(answer.history) for answer in answers] == [1, 1, 1]  # via the store
            assert answers[0].headers["Content-Type"] == "image/jpeg"
            assert len({hashlib.sha256(answer.content).digest() for answer in answers}) == 1
            assert answers[0].content == object_store.read(name)
        assert not [p for p in tmp_path.glob("media-*/**/*") if p.is_file()]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()
    assert "Traceback" not in (tmp_path / "cluster.log").read_text()
