"""Malformed photos and videos sent through the real report form and the comment form:
each is refused with a message naming it (or, for polyglots, kept as a clean re-encoded
picture), never a 500, and the app keeps serving. The corpus is generated here; the
unit-level checks of bpt311/media/ are in tests/test_media.py."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import Media, Report
from tests.test_reporting import form_data, post


def _jpeg(size=(320, 240), exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 60)).save(buffer, "JPEG", exif=exif or Image.Exif())
    return buffer.getvalue()


def _png(size=(320, 240)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 60)).save(buffer, "PNG")
    return buffer.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG whose header claims any size; its pixel data may be short or absent."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", idat or zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def png_bomb(side: int = 12_000) -> bytes:
    """Real pixel data for a side x side 1-bit picture: ~18 MB raw, a few KB compressed."""
    row = b"\x00" + b"\x00" * (side // 8)
    squeezer = zlib.compressobj(9)
    data = b"".join(squeezer.compress(row) for _ in range(side)) + squeezer.flush()
    return png_declaring(side, side, data)


def jpeg_with_absurd_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 99  # orientation: no such value
    exif[0x8825] = {1: "N", 2: (400.0, 99.0, 999.0), 3: "Q", 4: (1e9, 0.0, 0.0)}
    return _jpeg(exif=exif)


def mp4_box(kind: bytes, body: bytes, size: int | None = None) -> bytes:
    return struct.pack(">I", size if size is not None else 8 + len(body)) + kind + body


MP4_HEAD = mp4_box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41")

# name, bytes, what happens: "refused" (422 naming the file) or "kept" (re-encoded).
PHOTOS = {
    "truncated.jpg": (_jpeg()[:300], "refused"),
    "truncated-half.jpg": (_jpeg((800, 600))[: len(_jpeg((800, 600))) // 2], "either"),
    "truncated.png": (_png()[:120], "refused"),
    "bomb.png": (png_bomb(), "refused"),
    "huge-header.png": (png_declaring(2**31 - 1, 2**31 - 1), "refused"),
    "zero-size.png": (png_declaring(0, 0), "refused"),
    "pdf-renamed.jpg": (b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "refused"),
    "page.jpg": (b"<!doctype html><script>alert(1)</script>", "refused"),
    "image.svg.png": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "refused"),
    "program.jpg": (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "refused"),
    "animation.gif": (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00;", "refused"),
    "garbage.heic": (
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\xde\xad" * 500,
        "refused",
    ),
    "only-magic.jpg": (b"\xff\xd8\xff\xe0", "refused"),
    "empty.jpg": (b"", "refused"),
    "absurd-exif.jpg": (jpeg_with_absurd_exif(), "kept"),
    "polyglot-html.jpg": (_jpeg() + b"<html><script>alert('polyglot')</script></html>", "kept"),
    "polyglot-zip.jpg": (_jpeg() + b"PK\x03\x04" + b"\x14\x00" * 20 + b"payload.exe", "kept"),
}

VIDEOS = {
    "html.mp4": (b"<html><body>not a video</body></html>", "refused"),
    "jpeg.mp4": (_jpeg(), "refused"),
    "huge-box.mp4": (mp4_box(b"ftyp", b"isom", size=0xFFFFFFFF) + b"\x00" * 64, "either"),
    "box-size-one.mp4": (MP4_HEAD + mp4_box(b"moov", b"\xff" * 8, size=1), "either"),
    "box-size-zero.mp4": (MP4_HEAD + mp4_box(b"mdat", b"\x00" * 100, size=0), "either"),
    "truncated.mp4": (MP4_HEAD[:10], "either"),
    "audio-only.m4a": (mp4_box(b"ftyp", b"M4A \x00\x00\x00\x00M4A mp42isom"), "refused"),
}


def media_files(site) -> set[str]:
    root = Path(site.config["MEDIA_ROOT"])
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_each_malformed_photo_is_answered_without_a_crash(client, city, name):
    content, expected = PHOTOS[name]
    response = post(client, form_data(client, photos=[(io.BytesIO(content), name)]))
    page = response.get_data(as_text=True)
    assert response.status_code in (303, 422), response.status_code
    if expected == "refused":
        assert response.status_code == 422
        assert name in page, "the refusal names the file"
        assert db.session.scalar(select(func.count(Report.id))) == 0
    if expected == "kept":
        assert response.status_code == 303
        [media] = db.session.scalars(select(Media)).all()
        stored = (Path(city.config["MEDIA_ROOT"]) / media.file_name).read_bytes()
        assert stored.startswith(b"\xff\xd8") and media.content_type == "image/jpeg"
        for smuggled in (b"<script", b"<html", b"PK\x03\x04", b"payload.exe"):
            assert smuggled not in stored
        assert b"Exif" not in stored[:200]  # every bit of metadata dropped
    # and the app still serves
    assert client.get("/reports").status_code == 200


@pytest.mark.parametrize("name", sorted(VIDEOS))
def test_each_malformed_video_is_answered_without_a_crash(client, city, name):
    content, expected = VIDEOS[name]
    response = post(client, form_data(client, video=(io.BytesIO(content), name)))
    assert response.status_code in (303, 422), response.status_code
    if expected == "refused":
        assert response.status_code == 422
        assert name in response.get_data(as_text=True)
    if response.status_code == 303:
        [media] = db.session.scalars(select(Media)).all()
        served = client.get(f"/media/{media.file_name}")
        assert served.mimetype.startswith("video/")
        assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/").status_code == 200


def test_refused_files_leave_nothing_on_disk_and_good_ones_are_kept(client, city):
    """All the refused photos at once beside one good one: the good one waits in the
    stash with the form shown again, the bad ones are named and not stored."""
    before = media_files(city)
    refused = [name for name, (_, expected) in PHOTOS.items() if expected == "refused"]
    uploads = [(io.BytesIO(PHOTOS[name][0]), name) for name in refused[:4]]
    uploads.append((io.BytesIO(_jpeg()), "good.jpg"))
    response = post(client, form_data(client, photos=uploads))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert all(name in page for name in refused[:4])
    added = media_files(city) - before
    originals = [n for n in added if not n.endswith(".json") and not n.startswith("pending/v-")]
    assert len(originals) <= 2  # good.jpg and its thumbnail (variants aside)
    assert all(name.startswith("pending/") for name in added)


def test_a_malformed_photo_on_a_comment_is_refused_with_a_message(site):
    from tests.conftest import client_for, post_form
    from tests.factories import make_report, make_user

    report = make_report()
    client = client_for(site, make_user("resident@example.org"))
    for name in ("bomb.png", "page.jpg", "truncated.jpg"):
        response = post_form(
            client,
            f"/reports/{report.tracking_number}/comments",
            {"body": "Here is a photo of it.", "photo": (io.BytesIO(PHOTOS[name][0]), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422, (name, response.status_code)
        assert name in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Report, report.id).comment_count == 0
