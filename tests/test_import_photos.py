"""Photos of imported reports: fetched after the import by the sweep, kept as uploads are,
or given up (and noted on the report) when they cannot be had, never fatal.

The photos' host is a small HTTP server on loopback; loopback is a private address, so
these tests (and only they) set IMPORT_FETCH_ALLOW_PRIVATE, and one test checks that
without it the same URL is refused.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

import pytest
from PIL import Image
from sqlalchemy import select, update

from bpt311 import outbound, storage
from bpt311.extensions import db
from bpt311.imports import photos
from bpt311.imports.records import Incoming
from bpt311.imports.service import Importer
from bpt311.jobs import sweep
from bpt311.models import ImportedPhoto, Media, Report, TimelineEvent, utcnow
from tests.factories import CITY_HALL

HUGE = 2 * 1024 * 1024  # over the 1 MB limit these tests set


def _jpeg() -> bytes:
    out = BytesIO()
    Image.new("RGB", (800, 600), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


class _Photos(BaseHTTPRequestHandler):
    jpeg = _jpeg()
    hits: dict[str, int] = {}

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path == "/photo.jpg":
            self._answer(200, "image/jpeg", self.jpeg)
        elif self.path == "/page.html":
            self._answer(200, "text/html; charset=utf-8", b"<html><body>Not a photo</body></html>")
        elif self.path == "/huge.jpg":
            self._answer(200, "image/jpeg", b"\xff" * HUGE)
        elif self.path == "/huge-unsized.jpg":  # no Content-Length: the limit while reading
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(HUGE // 65536 + 2):
                self.wfile.write(b"\xff" * 65536)
        elif self.path == "/busy.jpg":
            self._answer(503, "text/plain", b"busy")
        elif self.path == "/moved.jpg":
            self.send_response(302)
            self.send_header("Location", "/photo.jpg")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._answer(404, "text/plain", b"not here")

    def _answer(self, status: int, kind: str, body: bytes):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Photos)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def site(make_app):
    from bpt311.seed import load_city

    app = make_app(
        IMPORT_FETCH_ALLOW_PRIVATE=True,
        IMPORT_PHOTO_MAX_MB=1,
        IMPORT_PHOTO_ATTEMPTS=3,
        IMPORT_PHOTO_BACKOFF_SECONDS=60,
    )
    with app.app_context():
        load_city()
        yield app


def _import(*urls: str, source_id: str = "A-1") -> Report:
    record = Incoming(
        source_id=source_id,
        category="pothole",
        description="Deep pothole",
        latitude=CITY_HALL[0],
        longitude=CITY_HALL[1],
        created_at=datetime(2024, 3, 4, 9, 0, tzinfo=UTC),
        media_urls=list(urls),
    )
    summary = Importer("csv:test").run([record])
    assert summary.imported == 1
    return db.session.scalars(select(Report).where(Report.import_id == source_id)).one()


def _photos_of(report: Report) -> list[ImportedPhoto]:
    return list(
        db.session.scalars(
            select(ImportedPhoto)
            .where(ImportedPhoto.report_id == report.id)
            .order_by(ImportedPhoto.id)
        )
    )


def _notes(report: Report) -> list[str]:
    return list(
        db.session.scalars(
            select(TimelineEvent.internal_note).where(
                TimelineEvent.report_id == report.id, TimelineEvent.internal_note != ""
            )
        )
    )


def test_the_sweep_fetches_an_imported_photo_and_keeps_it_as_an_upload(site, host):
    report = _import(f"{host}/photo.jpg", f"{host}/photo.jpg")  # the same address once
    assert report.media == []  # the import itself fetches nothing
    assert [p.state for p in _photos_of(report)] == ["waiting"]

    assert sweep.sweep_imported_photos() == 1

    db.session.expire_all()
    (row,) = _photos_of(report)
    assert row.state == "done" and row.attempts == 1
    (media,) = db.session.scalars(select(Media).where(Media.report_id == report.id)).all()
    assert media.kind == "photo" and media.content_type == "image/jpeg"
    assert (media.width, media.height) == (800, 600)
    assert media.processing_state == "ready" and media.variants  # the copies, as uploads
    kept = storage.read_bytes(media.file_name)
    assert kept != _Photos.jpeg and Image.open(BytesIO(kept)).format == "JPEG"  # re-encoded
    assert storage.read_bytes(media.thumb_name)
    page = site.test_client().get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert media.file_name.split(".")[0] in page or "/media/" in page

    assert sweep.sweep_imported_photos() == 0  # nothing waits: never fetched twice


def test_the_regular_sweep_runs_the_photo_part(site, host):
    """``sweep_when_due`` (flask notify run, the dev server's loop, the RQ worker)."""
    report = _import(f"{host}/photo.jpg")
    site.extensions.pop(sweep.LAST_SWEEP, None)
    sweep.sweep_when_due()
    db.session.expire_all()
    assert [p.state for p in _photos_of(report)] == ["done"]


def test_a_host_that_trickles_the_photo_is_tried_again_later(site, host, monkeypatch):
    monkeypatch.setattr(photos, "WHOLE_SECONDS", -1)  # any photo takes too long
    report = _import(f"{host}/photo.jpg")
    assert photos.fetch_waiting() == 1
    db.session.expire_all()
    (row,) = _photos_of(report)
    assert row.state == "waiting" and "still not whole" in row.error


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/gone.jpg", "404"),
        ("/page.html", "not an image"),
        ("/huge.jpg", "larger than"),
        ("/huge-unsized.jpg", "larger than"),
        ("/moved.jpg", "302"),
    ],
)
def test_a_photo_that_cannot_be_had_is_given_up_at_once_and_noted(site, host, path, why):
    report = _import(f"{host}{path}")
    assert sweep.sweep_imported_photos() == 1
    db.session.expire_all()
    (row,) = _photos_of(report)
    assert row.state == "failed" and row.attempts == 1 and why in row.error
    assert db.session.scalars(select(Media).where(Media.report_id == report.id)).all() == []
    (note,) = _notes(report)
    assert f"{host}{path}" in note and why in note
    assert report.media_url == f"{host}{path}"  # still linked
    assert sweep.sweep_imported_photos() == 0


def test_a_busy_host_is_tried_again_later_then_given_up(site, host):
    report = _import(f"{host}/busy.jpg")
    _Photos.hits.pop("/busy.jpg", None)
    assert photos.fetch_waiting() == 1
    db.session.expire_all()
    (row,) = _photos_of(report)
    assert row.state == "waiting" and row.attempts == 1 and "503" in row.error
    assert row.retry_at > utcnow() + timedelta(seconds=50)
    assert photos.fetch_waiting() == 0  # not before its time
    for attempt in (2, 3):
        row.retry_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert photos.fetch_waiting() == 1
        db.session.expire_all()
        row = _photos_of(report)[0]
        assert row.attempts == attempt
    assert row.state == "failed" and "503" in row.error  # IMPORT_PHOTO_ATTEMPTS = 3
    assert _Photos.hits["/busy.jpg"] == 3
    assert len(_notes(report)) == 1


def test_a_photo_whose_tries_all_broke_is_given_up(site, host, monkeypatch):
    report = _import(f"{host}/photo.jpg")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(photos, "process_photo", broken)
    for _ in range(3):  # IMPORT_PHOTO_ATTEMPTS: each try logged, the sweep goes on
        assert photos.fetch_waiting() == 0
        db.session.execute(update(ImportedPhoto).values(retry_at=None))
        db.session.commit()
    assert photos.fetch_waiting() == 1
    db.session.expire_all()
    (row,) = _photos_of(report)
    assert row.state == "failed" and row.attempts == 3


def test_one_bad_photo_does_not_keep_the_others(site, host):
    report = _import(f"{host}/gone.jpg", f"{host}/photo.jpg")
    assert photos.fetch_waiting() == 2
    db.session.expire_all()
    assert [p.state for p in _photos_of(report)] == ["failed", "done"]
    assert len(db.session.scalars(select(Media).where(Media.report_id == report.id)).all()) == 1


def test_without_the_test_setting_a_loopback_host_is_refused(make_app, host):
    from bpt311.seed import load_city

    app = make_app()  # IMPORT_FETCH_ALLOW_PRIVATE not set
    with app.app_context():
        assert app.config["IMPORT_FETCH_ALLOW_PRIVATE"] is False
        load_city()
        report = _import(f"{host}/photo.jpg", "https://127.0.0.1/photo.jpg")
        _Photos.hits.pop("/photo.jpg", None)
        assert photos.fetch_waiting() == 2
        db.session.expire_all()
        rows = _photos_of(report)
        assert [p.state for p in rows] == ["failed", "failed"]
        assert "https" in rows[0].error
        assert "not a public address" in rows[1].error
        assert "/photo.jpg" not in _Photos.hits  # never connected


# ---- the check itself --------------------------------------------------------------------


def test_check_public_fetch_wants_https_and_a_public_address():
    for url in (
        "http://example.com/a.jpg",
        "https://example.com:8443/a.jpg",
        "https://user@example.com/a.jpg",
        "https://10.0.0.5/a.jpg",
        "https://[::1]/a.jpg",
        "https://169.254.169.254/latest/meta-data",
        "ftp://example.com/a.jpg",
        "https://exa mple.com/a.jpg",
    ):
        with pytest.raises(outbound.DestinationRefused):
            outbound.check_public_fetch(url)
    with pytest.raises(outbound.DestinationRefused, match="not a public address"):
        outbound.check_public_fetch("https://localhost/a.jpg")  # resolves to loopback
    allowed = outbound.check_public_fetch("https://8.8.8.8/a.jpg")  # a public literal
    assert allowed.host == "8.8.8.8" and not allowed.named_origin
    loose = outbound.check_public_fetch("http://127.0.0.1:8123/a.jpg", allow_private=True)
    assert loose.named_origin  # tests only: the session then skips the peer check
    with pytest.raises(outbound.DestinationRefused):
        outbound.check_public_fetch("http://u@127.0.0.1:8123/a.jpg", allow_private=True)
