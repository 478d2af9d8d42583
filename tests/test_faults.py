"""Faults: the database connection cut during load, the disk full for media, the geocoder
hanging, and the email worker killed in the middle of a send. Each ends cleanly: a
clear answer, nothing half-written, nothing lost, and the service recovers.

The SMTP server down then back is tests/test_outbox.py
(test_smtp_server_down_then_back_loses_nothing, test_refused_email_is_retried_with_backoff_
and_delivered_once); a geocoder that is down, slow or erroring is tests/test_geocoding.py.
"""

from __future__ import annotations

import errno
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import func, select, update
from sqlalchemy.engine import make_url

from bpt311.extensions import db
from bpt311.models import Media, Outbox, Report, TimelineEvent, utcnow
from bpt311.notify import enqueue_email
from tests.conftest import TEST_DATABASE_URL, free_port
from tests.factories import make_report, phone_video
from tests.load.server import ROOT, gunicorn, server_env
from tests.test_reporting import form_data, jpeg, post

pytestmark = pytest.mark.slow


def photo_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (80, 80, 80)).save(buffer, "JPEG")
    return buffer.getvalue()


def stored_files(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and not str(path.relative_to(root)).startswith(("pending", "v/", "v-"))
    }


def media_names() -> set[str]:
    names = set()
    for media in db.session.scalars(select(Media)):
        names |= {media.file_name, media.thumb_name} - {""}
    return names


def assert_nothing_half_written(media_root: Path) -> None:
    """Every report has its submitted event; every stored file belongs to a media row and
    every media row's file exists."""
    db.session.expire_all()
    without_event = db.session.scalar(
        select(func.count(Report.id)).where(
            ~select(TimelineEvent.id)
            .where(TimelineEvent.report_id == Report.id, TimelineEvent.kind == "submitted")
            .exists()
        )
    )
    assert without_event == 0
    names = media_names()
    files = stored_files(media_root)
    assert files - names == set(), "files on disk that no report owns"
    assert names - files == set(), "media rows whose file is missing"


# ---- the database connection cut during load ----------------------------------------------


class CuttableProxy:
    """A TCP proxy on loopback between the app and PostgreSQL that can be cut: every open
    connection is closed and new ones are refused until it is restored."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = free_port()
        self.cut_now = threading.Event()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_now.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket):
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
                with self.lock:
                    self.sockets.discard(sock)

    def cut(self):
        self.cut_now.set()
        with self.lock:
            live = list(self.sockets)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore(self):
        self.cut_now.clear()

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()


SUBMISSION_KEY = re.compile(r'name="submission_key"[^>]*value="([^"]*)"')
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"')


def submit_over_http(base: str, photo: bytes, number: int) -> tuple[int, str]:
    """One resident's report with a photo: the form page, then the post."""
    session = requests.Session()
    try:
        page = session.get(f"{base}/reports/new?category=pothole", timeout=30)
        if page.status_code != 200:
            return page.status_code, page.text
        data = {
            "csrf_token": CSRF.search(page.text).group(1),
            "submission_key": SUBMISSION_KEY.search(page.text).group(1),
            "category": "pothole",
            "description": f"Pothole number {number} in the right lane.",
            "latitude": "41.1792",
            "longitude": "-73.1894",
            "address": "45 Lyon Terrace",
            "answer_size": "medium",
            "not_duplicate": "1",
        }
        response = session.post(
            f"{base}/reports/new",
            data=data,
            files={"photos": (f"p{number}.jpg", photo, "image/jpeg")},
            allow_redirects=False,
            timeout=30,
        )
        return response.status_code, response.text
    except requests.RequestException as exc:
        return 0, str(exc)


@pytest.mark.load
@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="cuts a TCP connection to PostgreSQL (SQLite has no connection to cut)",
)
def test_database_cut_during_load_fails_cleanly_and_recovers(site, tmp_path, capsys):
    url = make_url(TEST_DATABASE_URL)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    media_root = tmp_path / "media"
    log = tmp_path / "gunicorn.log"
    results: list[tuple[float, int, str]] = []
    photo = photo_bytes()
    stop = threading.Event()
    phases = {}

    def load(worker: int):
        number = worker * 1000
        while not stop.is_set():
            number += 1
            code, body = submit_over_http(base, photo, number)
            results.append((time.monotonic(), code, body))

    try:
        # limits off: four threads from one address retry far faster than a person would
        with gunicorn(proxied, media_root, log, workers=2, RATELIMIT_ENABLED="0") as base:
            threads = [threading.Thread(target=load, args=(n,)) for n in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(4)
            phases["cut"] = time.monotonic()
            proxy.cut()
            time.sleep(4)
            health_down = requests.get(f"{base}/readyz", timeout=30).status_code
            phases["restore"] = time.monotonic()
            proxy.restore()
            time.sleep(6)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            health_up = requests.get(f"{base}/readyz", timeout=30).status_code
    finally:
        proxy.close()

    codes = [code for _, code, _ in results]
    during = [code for at, code, _ in results if phases["cut"] + 0.5 < at < phases["restore"]]
    after = [code for at, code, _ in results if at > phases["restore"] + 3]
    reports = db.session.scalar(select(func.count(Report.id)))
    with capsys.disabled():
        print(
            f"\n[fault db-cut] {len(codes)} submissions: {codes.count(303)} sent, "
            f"{codes.count(503)} answered 503 while cut, others {sorted(set(codes) - {303, 503})}; "
            f"{reports} reports stored; /readyz {health_down} while cut, {health_up} after"
        )
    server_log = log.read_text(errors="replace")
    odd = [text[:3000] for _, code, text in results if code not in (303, 503)][:2]
    assert set(codes) <= {303, 503}, (sorted(set(codes)), odd, server_log[-6000:])
    assert 503 in during and set(during) <= {303, 503}
    assert after and set(after) == {303}, "the service recovers by itself"
    assert health_down == 503 and health_up == 200
    for _, code, body in results:
        if code == 503:
            assert "Traceback" not in body and "Briefly unavailable" in body
    # every 303 is a stored report; a 503 stored nothing (or, if the cut fell between
    # the commit and the answer, exactly the report its retry would find again)
    assert codes.count(303) <= reports <= codes.count(303) + codes.count(503)
    assert_nothing_half_written(media_root)
    assert "Traceback" not in server_log


# ---- the disk full for media ----------------------------------------------------------------


@pytest.fixture
def disk_full(monkeypatch, city):
    """Every write under MEDIA_ROOT writes half and then fails with ENOSPC."""
    root = Path(city.config["MEDIA_ROOT"]).resolve()
    real_write = Path.write_bytes

    def write_bytes(path, data):
        if str(Path(path).resolve()).startswith(str(root)):
            real_write(path, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    return root


def test_disk_full_while_stashing_a_photo_keeps_the_form_and_writes_nothing(client, disk_full):
    description = "A deep pothole in the right lane by the bus stop."
    response = post(client, form_data(client, description=description, photos=[jpeg()]))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "pothole.jpg could not be saved just now" in page
    assert description in page, "what was typed is kept"
    assert db.session.scalar(select(func.count(Report.id))) == 0
    assert [p for p in disk_full.rglob("*") if p.is_file()] == [], "no half files left"


def test_disk_full_while_storing_a_video_is_refused_with_a_message(client, city, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("bpt311.storage.backends.shutil.copyfileobj", full)
    response = post(client, form_data(client, video=(io.BytesIO(phone_video()), "clip.mp4")))
    assert response.status_code == 422
    assert "clip.mp4 could not be saved just now" in response.get_data(as_text=True)
    root = Path(city.config["MEDIA_ROOT"])
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_disk_full_when_the_report_is_sent_saves_nothing_and_says_so(client, city, monkeypatch):
    """The photo waited in the stash; giving it its final name fails: no report, no
    stray file, the photo still waiting, and a message."""

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("bpt311.storage.backends.os.link", full)
    monkeypatch.setattr("bpt311.storage.backends.shutil.copyfile", full)
    response = post(client, form_data(client, photos=[jpeg()]))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "could not be saved just now, so the report was not sent" in page
    assert 'name="pending_media"' in page, "the photo is kept for the next try"
    assert db.session.scalar(select(func.count(Report.id))) == 0
    assert_nothing_half_written(Path(city.config["MEDIA_ROOT"]))


# ---- the geocoder hanging ---------------------------------------------------------------------


@pytest.fixture
def hanging_geocoder():
    """A server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", free_port()))
    held = []
    done = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not done.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    done.set()
    thread.join()
    for sock in held:
        sock.close()
    server.close()


def test_reporting_by_pin_works_while_the_geocoder_hangs(make_app, hanging_geocoder):
    app = make_app(GEOCODER_URL=hanging_geocoder, GEOCODER_TIMEOUT=1)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        client = app.test_client()
        started = time.monotonic()
        by_pin = post(client, form_data(client, address=""))
        assert by_pin.status_code == 303, "the pin is enough"
        by_address = post(client, form_data(client, latitude="", longitude="", address="1 Main"))
        # the form comes back once, all kept, saying it will go as typed if sent again
        assert by_address.status_code == 200
        page = by_address.get_data(as_text=True)
        assert "look up addresses right now" in page and 'value="1 Main"' in page
        assert time.monotonic() - started < 15
        assert db.session.scalar(select(func.count(Report.id))) == 1


# ---- the email worker killed mid-send -----------------------------------------------------------


class StallingSMTP:
    """A tiny SMTP server: in "stall" mode it takes the whole message and never answers
    the final dot, as a hung server would; in "accept" mode it answers 250 and keeps it."""

    def __init__(self):
        self.mode = "stall"
        self.received: list[bytes] = []
        self.stalled = threading.Event()
        self.server = socket.create_server(("127.0.0.1", free_port()))
        self.port = self.server.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(conn)
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket):
        reader = conn.makefile("rb")
        try:
            conn.sendall(b"220 stall.test ESMTP\r\n")
            while line := reader.readline():
                command = line.strip().upper()
                if command.startswith((b"EHLO", b"HELO")):
                    conn.sendall(b"250 stall.test\r\n")
                elif command == b"DATA":
                    conn.sendall(b"354 go ahead\r\n")
                    message = b""
                    while (part := reader.readline()) and part != b".\r\n":
                        message += part
                    if self.mode == "stall":
                        self.stalled.set()
                        time.sleep(120)  # never answers; the worker is killed meanwhile
                        return
                    self.received.append(message)
                    conn.sendall(b"250 queued\r\n")
                elif command == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.server.close()
        for conn in self.connections:
            conn.close()


def test_worker_killed_mid_send_delivers_exactly_once_after_restart(site, tmp_path):
    smtp = StallingSMTP()
    try:
        report = make_report()
        row = enqueue_email(
            "resident@example.org",
            "report_receipt",
            f"Your report {report.tracking_number}",
            report_id=report.id,
            report=report,
            report_url=f"http://bpt311.test/reports/{report.tracking_number}",
            response_time="3 days",
        )
        db.session.commit()
        row_id = row.id
        database_url = db.engine.url.render_as_string(hide_password=False)
        env = server_env(
            database_url, tmp_path / "media", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp.port)
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "notify", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert smtp.stalled.wait(60), "the worker reached the SMTP server"
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)

        db.session.expire_all()
        leased = db.session.get(Outbox, row_id)
        assert leased.status == "pending" and leased.lease_until is not None
        assert leased.attempts == 1
        # A second worker at once does not touch it: the lease still stands.
        smtp.mode = "accept"
        once = [sys.executable, "-m", "flask", "--app", "app", "notify", "run", "--once"]
        subprocess.run(once, cwd=ROOT, env=env, check=True, timeout=120, capture_output=True)
        assert smtp.received == []
        # Time passes (the lease runs out, OUTBOX_LEASE_SECONDS); a restarted worker sends it.
        db.session.execute(
            update(Outbox)
            .where(Outbox.id == row_id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        subprocess.run(once, cwd=ROOT, env=env, check=True, timeout=120, capture_output=True)
        subprocess.run(once, cwd=ROOT, env=env, check=True, timeout=120, capture_output=True)
        assert len(smtp.received) == 1
        assert f".outbox-{row_id}@".encode() in smtp.received[0]  # the row's own Message-ID
        db.session.expire_all()
        sent = db.session.get(Outbox, row_id)
        assert sent.status == "sent" and sent.attempts == 2
    finally:
        smtp.close()
