"""Static files under fingerprinted names, compressed bodies, ETags and photo copies."""

from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import brotli
import pytest
from flask import url_for
from PIL import Image
from sqlalchemy import select

from bpt311 import assets, effects, storage
from bpt311.extensions import db
from bpt311.models import Media, Report, utcnow
from tests.conftest import CSRF_RE, csrf_token_from
from tests.factories import make_report, make_user, sign_in_as
from tests.test_reporting import form_data, jpeg, post

STATIC = Path(__file__).resolve().parent.parent / "static"
SITE_CSS = (STATIC / "css" / "site.css").read_bytes()


def static_url(app, name: str) -> str:
    with app.test_request_context():
        return url_for("static", filename=name)


def test_url_for_static_gives_a_fingerprinted_name(app):
    url = static_url(app, "css/site.css")
    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{10}\.css", url)
    assert static_url(app, "css/site.css") == url  # stable between calls


def test_fingerprint_changes_with_the_content(tmp_path):
    (tmp_path / "a.css").write_text("a{color:red}")
    first = assets.build_manifest(tmp_path).names["a.css"]
    (tmp_path / "a.css").write_text("a{color:blue}")
    second = assets.build_manifest(tmp_path).names["a.css"]
    assert first != second and first.startswith("a.") and second.endswith(".css")


def test_pages_link_the_fingerprinted_files(client, city):
    page = client.get("/").get_data(as_text=True)
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert links
    for link in links:
        assert re.search(r"\.[0-9a-f]{10}\.[a-z]+$", link), link


def test_fingerprinted_file_is_cached_for_a_year(client, app):
    response = client.get(static_url(app, "css/site.css"))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.data == SITE_CSS
    assert response.mimetype == "text/css"


def test_plain_name_still_works_with_a_short_cache(client):
    response = client.get("/static/css/site.css")
    assert response.status_code == 200 and response.data == SITE_CSS
    assert "immutable" not in response.headers["Cache-Control"]
    assert "max-age=300" in response.headers["Cache-Control"]


def test_a_fingerprint_from_an_older_release_gets_todays_file_briefly(client):
    response = client.get("/static/css/site.0123456789.css")
    assert response.status_code == 200 and response.data == SITE_CSS
    assert "immutable" not in response.headers["Cache-Control"]


def test_missing_static_file_is_404(client):
    assert client.get("/static/css/nothing.css").status_code == 404
    assert client.get("/static/../bpt311/__init__.py").status_code == 404


@pytest.mark.parametrize(
    "accept, coding, decode",
    [
        ("gzip, deflate, br", "br", brotli.decompress),
        ("gzip", "gzip", gzip.decompress),
        ("br;q=0, gzip", "gzip", gzip.decompress),
        ("", None, lambda body: body),
    ],
)
def test_static_body_is_sent_precompressed_as_the_browser_accepts(
    client, app, accept, coding, decode
):
    response = client.get(static_url(app, "css/site.css"), headers={"Accept-Encoding": accept})
    assert response.headers.get("Content-Encoding") == coding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert decode(response.data) == SITE_CSS
    assert int(response.headers["Content-Length"]) == len(response.data)


def test_static_files_do_not_vary_by_cookie(client, app):
    user = make_user()
    sign_in_as(client, user)
    response = client.get(static_url(app, "js/site.js"))
    assert "cookie" not in response.headers.get("Vary", "").lower()


def test_static_file_revalidates_with_304(client, app):
    url = static_url(app, "js/site.js")
    first = client.get(url, headers={"Accept-Encoding": "br"})
    again = client.get(
        url, headers={"Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 304 and again.data == b""
    since = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304


def test_images_are_not_recompressed(client, app):
    response = client.get(
        static_url(app, "vendor/leaflet-1.9.4/images/marker-icon.png"),
        headers={"Accept-Encoding": "gzip, br"},
    )
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert response.data[:4] == b"\x89PNG"


# ---- dynamic pages ---------------------------------------------------------------------


def test_html_is_compressed_when_the_browser_accepts_it(client, city):
    plain = client.get("/")
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    packed = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert b"Bridgeport 311" in gzip.decompress(packed.data)
    assert len(packed.data) < len(plain.data) / 2
    best = client.get("/", headers={"Accept-Encoding": "gzip, br"})
    assert best.headers["Content-Encoding"] == "br"
    assert b"Bridgeport 311" in brotli.decompress(best.data)


def test_unchanged_page_answers_304(client, city):
    make_report()
    first = client.get("/reports", headers={"Accept-Encoding": "gzip"})
    etag = first.headers["ETag"]
    assert not etag.startswith('W/"')  # public: the same bytes for every anonymous visitor
    again = client.get("/reports", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    make_report(description="A second pothole, further along the road.")
    changed = client.get("/reports", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and b"A second pothole" in changed.data


def test_page_still_answers_304_when_its_csrf_signature_ticks_on(client, city, monkeypatch):
    """The signed CSRF token carries a timestamp; a page kept from seconds ago holds a token
    just as valid, so its ETag must still match (a page for a person: public ones have no
    token)."""
    import time

    make_report()
    sign_in_as(client, make_user())
    first = client.get("/reports")
    later = time.time() + 30
    monkeypatch.setattr(time, "time", lambda: later)
    fresh = client.get("/reports")
    assert (
        CSRF_RE.search(fresh.get_data(as_text=True))[1]
        != CSRF_RE.search(first.get_data(as_text=True))[1]
    )
    again = client.get("/reports", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_a_page_cached_by_one_person_is_not_answered_304_for_another(client, city):
    report = make_report()
    path = f"/reports/{report.tracking_number}"
    etag = client.get(path).headers["ETag"]
    sign_in_as(client, make_user())
    response = client.get(path, headers={"If-None-Match": etag})
    assert response.status_code == 200 and response.headers["ETag"] != etag


def test_forms_are_never_answered_304_with_a_stale_submission_key(client, city):
    first = client.get("/reports/new?category=pothole")
    again = client.get(
        "/reports/new?category=pothole", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert again.status_code == 200  # each form carries a new key against double posts


def test_post_responses_are_not_given_etags(client, city):
    token = csrf_token_from(client, "/reports/new?category=pothole")
    response = client.post(
        "/reports/new", data={"csrf_token": token, "category": "pothole", "description": "x"}
    )
    assert "ETag" not in response.headers


# ---- photo copies ----------------------------------------------------------------------


def submit_with_photo(client, size=(1600, 1200)) -> Media:
    response = post(client, form_data(client, photos=[jpeg(size=size)]))
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return db.session.scalars(select(Media)).one()


def test_photo_gets_modern_copies_served_as_images(client, city, app):
    media = submit_with_photo(client)
    kinds = {kind for kind, _w, _h in media.variants}
    assert {"image/webp", "image/jpeg"} <= kinds
    widths = sorted({width for _kind, width, _h in media.variants})
    assert widths == [240, 480, 960]
    for name in storage.variant_files(media):
        response = client.get(f"/media/{name}")
        assert response.status_code == 200, name
        assert response.mimetype in {"image/webp", "image/avif", "image/jpeg"}
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        picture = Image.open(io.BytesIO(response.data))
        assert picture.format in {"WEBP", "AVIF", "JPEG"}
        assert max(picture.size) in (240, 480, 960)
    # the stash is emptied: only final files remain
    assert not list((Path(app.config["MEDIA_ROOT"]) / "pending").glob("*"))


def test_copies_of_a_hidden_photo_are_not_served(client, city):
    media = submit_with_photo(client)
    name = storage.variant_files(media)[0]
    media.hidden_at = utcnow()
    media.hidden_reason = "Shows a face"
    db.session.commit()
    assert client.get(f"/media/{name}").status_code == 404
    assert client.get("/media/v/0123456789abcdef0123456789abcdef-240x180.webp").status_code == 404


def test_small_photo_gets_copies_no_larger_than_itself(client, city):
    media = submit_with_photo(client, size=(300, 200))
    assert max(max(width, height) for _k, width, height in media.variants) == 300
    jpegs = media.srcset("image/jpeg")
    assert all(width != media.thumb_size[0] for _name, width, _h in jpegs)


def test_a_failed_submission_leaves_no_copies_behind(client, city, app):
    """The copies are linked into place inside the report's transaction; when it fails they
    are removed with it (a form never sent must leave no photo behind)."""
    media_root = Path(app.config["MEDIA_ROOT"])
    (media_root / "thumb.jpg").write_bytes(b"thumb")
    (media_root / "pending").mkdir(parents=True, exist_ok=True)
    key = storage.variant_key(b"thumb")
    (media_root / "pending" / f"v-{key}-240x180.webp").write_bytes(b"copy")
    report = make_report()
    media = Media(
        report_id=report.id,
        kind="photo",
        file_name="photo.jpg",
        thumb_name="thumb.jpg",
        content_type="image/jpeg",
        size_bytes=1,
    )
    db.session.add(media)
    storage.prepare_new_media(media)
    assert (media_root / "v" / f"{key}-240x180.webp").exists()
    effects.rollback()
    assert not (media_root / "v" / f"{key}-240x180.webp").exists()
    assert db.session.scalar(select(Report.id)) == report.id
