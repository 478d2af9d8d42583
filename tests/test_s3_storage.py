"""Media in an S3-compatible object store (MEDIA_STORAGE=s3): a real S3 server (moto's,
on loopback) holds the photos; reports, serving, the stash, erasure, backups and
/readyz work through it, and a report sent while it is down is kept."""

from __future__ import annotations

import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import pytest
import requests
from PIL import Image
from sqlalchemy import select

from bpt311 import backup, storage
from bpt311.extensions import db
from bpt311.models import Comment, Media, Report
from tests.factories import CITY_HALL, make_report, make_user, sign_in_as

PENDING = re.compile(r'name="pending_media"[^>]*value="([0-9a-f]{32})"')


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page)
    return match.group(1) if match else ""


def form_data(client, **fields) -> dict:
    """What a resident's browser sends, starting from the real form page."""
    page = client.get("/reports/new?category=pothole").get_data(as_text=True)
    data = {
        "csrf_token": hidden(page, "csrf_token"),
        "submission_key": hidden(page, "submission_key"),
        "category": "pothole",
        "description": "A deep pothole in the right lane by the bus stop.",
        "latitude": str(CITY_HALL[0]),
        "longitude": str(CITY_HALL[1]),
        "address": "45 Lyon Terrace",
        "answer_size": "medium",
    }
    data.update(fields)
    return data


def jpeg(name: str = "pothole.jpg", shade: int = 90):
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (120, shade, 60)).save(buffer, "JPEG")
    return (io.BytesIO(buffer.getvalue()), name)


def post(client, data):
    return client.post("/reports/new", data=data, content_type="multipart/form-data")


def city_on(make_app, object_store, **settings):
    app = make_app(**object_store.settings, **settings)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
    return app


@pytest.fixture
def s3_city(make_app, object_store):
    """Bridgeport's catalogue on an app whose media live in the object store."""
    app = city_on(make_app, object_store)
    with app.app_context():
        yield app


def local_files(app) -> list[Path]:
    return [p for p in Path(app.config["MEDIA_ROOT"]).rglob("*") if p.is_file()]


def the_photo() -> Media:
    db.session.expire_all()
    return db.session.scalars(select(Media)).one()


def fetch(client, path: str) -> requests.Response | object:
    """What a browser gets for one of our media URLs, following a redirect to the store."""
    response = client.get(path)
    if response.status_code == 302:
        return requests.get(response.headers["Location"], timeout=10)
    return response


# ---- a report's photo goes to the bucket, and comes back --------------------------------


def test_photo_of_a_report_is_stored_in_the_bucket_and_served_from_it(s3_city, object_store):
    client = s3_city.test_client()
    assert post(client, form_data(client, photos=[jpeg()])).status_code == 303
    media = the_photo()
    copies = storage.variant_files(media)
    assert copies, "the photo's smaller copies were made"
    # The photo, its thumbnail and its copies are in the bucket; the stash is gone and
    # nothing of the photo is on this machine's disk.
    assert object_store.names() == {media.file_name, media.thumb_name, *copies}
    assert local_files(s3_city) == []

    response = client.get(f"/media/{media.file_name}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith(object_store.endpoint)
    assert "X-Amz-Signature=" in response.headers["Location"]  # presigned, short-lived
    assert "max-age=300" in response.headers["Cache-Control"]
    photo = requests.get(response.headers["Location"], timeout=10)
    assert photo.status_code == 200
    assert photo.headers["Content-Type"] == "image/jpeg"
    assert photo.content == object_store.read(media.file_name)
    assert Image.open(io.BytesIO(photo.content)).size == (media.width, media.height)
    thumb = fetch(client, f"/media/{media.thumb_name}")
    assert thumb.content == object_store.read(media.thumb_name)

    # The smaller copies are streamed by the app itself, cacheable, with their type.
    copy = client.get(f"/media/{copies[0]}")
    assert copy.status_code == 200
    assert copy.data == object_store.read(copies[0])
    assert copy.mimetype == storage.content_type_of(copies[0])
    assert "public" in copy.headers["Cache-Control"] and copy.headers["ETag"]
    again = client.get(f"/media/{copies[0]}", headers={"If-None-Match": copy.headers["ETag"]})
    assert again.status_code == 304


def test_hidden_photos_get_no_url_to_the_store(s3_city, object_store):
    client = s3_city.test_client()
    post(client, form_data(client, photos=[jpeg()]))
    media = the_photo()
    copy = storage.variant_files(media)[0]
    media.hidden_at = media.report.created_at  # a moderator hid it
    db.session.commit()
    for path in (media.file_name, media.thumb_name, copy):
        assert client.get(f"/media/{path}").status_code == 404, path
    # Names nobody gave out are refused without asking the store.
    assert client.get("/media/" + "0" * 32 + ".jpg").status_code == 404
    assert client.get("/media/pending/" + "0" * 32 + ".jpg").status_code == 404


def test_public_url_serves_media_straight_from_the_bucket(make_app, object_store):
    public = f"{object_store.endpoint}/{object_store.bucket}"
    readable = {  # what an operator sets on a public bucket (or its CDN does)
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{object_store.bucket}/*",
            }
        ],
    }
    object_store.client.put_bucket_policy(Bucket=object_store.bucket, Policy=json.dumps(readable))
    app = city_on(make_app, object_store, S3_PUBLIC_URL=public)
    with app.app_context():
        client = app.test_client()
        post(client, form_data(client, photos=[jpeg()]))
        media = the_photo()
        response = client.get(f"/media/{media.file_name}")
        assert response.status_code == 302
        assert response.headers["Location"] == f"{public}/{media.file_name}"
        assert requests.get(response.headers["Location"], timeout=10).content == (
            object_store.read(media.file_name)
        )
        copy = client.get(f"/media/{storage.variant_files(media)[0]}")
        assert copy.headers["Location"] == f"{public}/{storage.variant_files(media)[0]}"


# ---- the stash is shared by every process -----------------------------------------------


def test_photo_stashed_by_one_process_is_sent_with_the_form_posted_to_another(
    make_app, object_store, tmp_path
):
    first = city_on(make_app, object_store)
    second = make_app(MEDIA_ROOT=str(tmp_path / "second-host-media"), **object_store.settings)
    with first.app_context():
        browser = first.test_client()
        page = post(browser, form_data(browser, description="", photos=[jpeg()]))
        assert page.status_code == 422  # no description: the form comes back
        [token] = PENDING.findall(page.get_data(as_text=True))
        assert f"pending/{token}.jpg" in object_store.names()
        assert local_files(first) == []

    with second.app_context():
        other = second.test_client()  # another host: another session, another disk
        response = post(other, form_data(other, pending_media=token))
        assert response.status_code == 303
        media = the_photo()
        assert media.kind == "photo" and storage.variant_files(media)
        assert not [name for name in object_store.names() if name.startswith("pending/")]
        assert fetch(other, f"/media/{media.file_name}").content == object_store.read(
            media.file_name
        )
    with first.app_context():
        assert fetch(first.test_client(), f"/media/{media.file_name}").status_code == 200


def test_stash_older_than_a_day_is_cleaned_from_the_bucket(s3_city, object_store):
    client = s3_city.test_client()
    page = post(client, form_data(client, description="", photos=[jpeg()]))
    [token] = PENDING.findall(page.get_data(as_text=True))
    assert storage.clean_stash() == 0  # still fresh
    stashed = {name for name in object_store.names() if name.startswith("pending/")}
    assert len(stashed) >= 4  # photo, thumbnail, description, copies
    assert storage.clean_stash(max_age_seconds=-60) == len(stashed)
    assert object_store.names() == set()
    assert storage.load_stashed(token) is None


# ---- deleting, exporting, backing up -----------------------------------------------------


def test_deleting_an_account_removes_its_comment_photos_from_the_bucket(s3_city, object_store):
    from bpt311.accounts.service import hash_password

    user = make_user("maria@example.org", password_hash=hash_password("correct horse 42"))
    report = make_report(reporter=user)
    storage.write_bytes("report-photo.jpg", b"report photo bytes")
    storage.write_bytes("comment-photo.jpg", b"comment photo bytes")
    storage.write_bytes("comment-photo.thumb.jpg", b"thumb")
    comment = Comment(report_id=report.id, author=user, body="Still there this morning.")
    db.session.add(comment)
    db.session.flush()
    db.session.add_all(
        [
            Media(
                report=report,
                kind="photo",
                file_name="report-photo.jpg",
                content_type="image/jpeg",
                size_bytes=18,
            ),
            Media(
                report_id=report.id,
                comment_id=comment.id,
                kind="photo",
                file_name="comment-photo.jpg",
                thumb_name="comment-photo.thumb.jpg",
                content_type="image/jpeg",
                size_bytes=19,
            ),
        ]
    )
    db.session.commit()
    client = s3_city.test_client()
    sign_in_as(client, user)
    page = client.get("/me/settings/delete").get_data(as_text=True)
    response = client.post(
        "/me/settings/delete",
        data={"csrf_token": hidden(page, "csrf_token"), "password": "correct horse 42"},
    )
    assert response.status_code == 303
    assert object_store.names() == {"report-photo.jpg"}  # the report's photo is the report's


def test_export_zip_holds_my_photos_from_the_bucket(s3_city, object_store):
    from bpt311.privacy.export import media_zip

    user = make_user("maria@example.org")
    client = s3_city.test_client()
    sign_in_as(client, user)
    post(client, form_data(client, photos=[jpeg()]))
    media = the_photo()
    with zipfile.ZipFile(media_zip(user)) as archive:
        [name] = archive.namelist()
        assert name.endswith(media.file_name)
        assert archive.read(name) == object_store.read(media.file_name)


def test_backup_and_restore_go_through_the_bucket(s3_city, object_store, tmp_path):
    client = s3_city.test_client()
    post(client, form_data(client, photos=[jpeg()]))
    post(client, form_data(client, description="", photos=[jpeg("waiting.jpg")]))  # a stash
    media = the_photo()
    kept = {media.file_name, media.thumb_name, *storage.variant_files(media)}
    manifest = backup.make_backup(tmp_path / "b.tar.gz")
    assert set(manifest["media"]) == kept  # the stash is not part of the record
    assert manifest["missing_media"] == []
    with tarfile.open(tmp_path / "b.tar.gz") as archive:
        assert archive.extractfile(f"media/{media.file_name}").read() == object_store.read(
            media.file_name
        )

    # Things go wrong: a photo is lost, a stray object appears.
    object_store.client.delete_object(Bucket=object_store.bucket, Key=media.file_name)
    storage.write_bytes("stray.jpg", b"not in the backup")
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore_backup(tmp_path / "b.tar.gz")
    done = backup.restore_backup(tmp_path / "b.tar.gz", force=True)
    assert done.files == len(kept)
    names = object_store.names()
    assert {name for name in names if not name.startswith("pending/")} == kept
    assert any(name.startswith("pending/") for name in names), "a waiting form keeps its photo"
    assert fetch(client, f"/media/{media.file_name}").status_code == 200


# ---- readiness, and the store going down ----------------------------------------------


def test_readyz_turns_unhealthy_when_the_object_store_stops_and_back(make_app, object_store):
    client = make_app(**object_store.settings).test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 200 and answer.json["checks"]["storage"] == "ok"
    object_store.stop()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert "object store is not reachable" in answer.json["checks"]["storage"]
    assert answer.json["checks"]["database"] == "ok"
    object_store.start()
    answer = client.get("/readyz")
    assert answer.status_code == 200 and answer.json["checks"]["storage"] == "ok"


def test_report_sent_while_the_store_is_down_is_kept_and_its_photo_sent_later(
    s3_city, object_store
):
    object_store.stop()
    client = s3_city.test_client()
    assert post(client, form_data(client, photos=[jpeg()])).status_code == 303
    media = the_photo()
    spool = Path(s3_city.config["MEDIA_ROOT"]) / "spool"
    assert (spool / media.file_name).is_file() and (spool / media.thumb_name).is_file()
    # Still shown meanwhile, from this host's spool.
    shown = client.get(f"/media/{media.file_name}")
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    with pytest.raises(storage.StorageUnavailable):
        storage.retry_pending_media()  # still down: everything keeps waiting
    assert (spool / media.file_name).is_file()

    object_store.start()
    done = storage.retry_pending_media()
    assert done.uploaded >= 2
    copies = storage.variant_files(media)
    assert copies and object_store.names() >= {media.file_name, media.thumb_name, *copies}
    assert [p for p in spool.rglob("*") if p.is_file()] == []
    assert fetch(client, f"/media/{media.file_name}").content == shown.data
    storage.clean_stash(max_age_seconds=-60)
    assert object_store.names() == {media.file_name, media.thumb_name, *copies}


def test_photo_out_of_reach_when_the_form_is_sent_is_said_and_nothing_sent(s3_city, object_store):
    client = s3_city.test_client()
    page = post(client, form_data(client, description="", photos=[jpeg()]))
    [token] = PENDING.findall(page.get_data(as_text=True))
    data = form_data(client, pending_media=token)
    object_store.stop()
    response = post(client, dict(data))
    assert response.status_code == 422
    assert "A photo you added cannot be fetched just now" in response.get_data(as_text=True)
    assert db.session.scalars(select(Report)).all() == []
    object_store.start()
    assert client.get("/readyz").status_code == 200  # the balancer sees it back
    assert post(client, data).status_code == 303  # sent again a few minutes later
    assert the_photo().kind == "photo"


def test_store_going_down_while_the_report_is_saved_keeps_the_report(
    s3_city, object_store, monkeypatch
):
    client = s3_city.test_client()
    page = post(client, form_data(client, description="", photos=[jpeg()]))
    [token] = PENDING.findall(page.get_data(as_text=True))
    stashed = storage.load_stashed(token)
    real_load = storage.load_stashed

    def load_then_fail(*args, **kwargs):
        item = real_load(*args, **kwargs)
        object_store.stop()  # down between reading the stash and giving it final names
        return item

    monkeypatch.setattr(storage, "load_stashed", load_then_fail)
    response = post(client, form_data(client, pending_media=token))
    monkeypatch.undo()
    assert response.status_code == 303, "the report is saved"
    media = the_photo()
    object_store.start()
    assert media.file_name not in object_store.names()
    done = storage.retry_pending_media()
    assert done.copied == 2  # the photo and its thumbnail get their final names now
    names = object_store.names()
    assert {media.file_name, media.thumb_name} <= names
    assert stashed.file_name not in names and f"pending/{token}.json" not in names
    assert object_store.read(media.file_name) == fetch(client, f"/media/{media.file_name}").content
    assert storage.retry_pending_media() == storage.Retried()  # nothing waits any more


def test_the_sweep_sends_spooled_media_once_the_store_is_back(s3_city, object_store):
    """Nobody has to remember `flask media retry`: the outbox worker's sweep (and
    `flask jobs sweep`) sends what waited in the spool."""
    from bpt311.jobs.sweep import retry_spooled_media

    object_store.stop()
    client = s3_city.test_client()
    assert post(client, form_data(client, photos=[jpeg()])).status_code == 303
    media = the_photo()
    assert retry_spooled_media() == 0  # still down: nothing lost, nothing moved
    object_store.start()
    result = s3_city.test_cli_runner().invoke(args=["jobs", "sweep"])
    assert result.exit_code == 0, result.output
    assert "spooled media" in result.output
    assert object_store.names() >= {media.file_name, media.thumb_name}
    spool = Path(s3_city.config["MEDIA_ROOT"]) / "spool"
    assert [p for p in spool.rglob("*") if p.is_file()] == []


def test_a_store_that_failed_is_left_alone_until_the_pause_ends_or_a_probe_answers(
    make_app, object_store
):
    """After one failure the store is not asked again for a moment (an upload's dozen
    files go to the spool at once); a readiness probe that gets an answer ends that."""
    app = make_app(**object_store.settings)
    with app.app_context():
        store = storage.backend()
        store.put_bytes("ok.jpg", b"x")
        object_store.stop()
        with pytest.raises(storage.StorageUnavailable, match="did not answer:"):
            store.put_bytes("first.jpg", b"x")
        object_store.start()
        with pytest.raises(storage.StorageUnavailable, match="moments ago"):
            store.exists("ok.jpg")  # not asked, though it would answer now
        store.breaker.reset_timeout = 0  # the pause is over: the next call tries it
        assert store.exists("ok.jpg")
        store.breaker.reset_timeout = storage.S3Storage.DOWN_SECONDS
        object_store.stop()
        with pytest.raises(storage.StorageUnavailable):
            store.ping()
        object_store.start()
        with pytest.raises(storage.StorageUnavailable, match="moments ago"):
            store.exists("ok.jpg")  # the failed probe paused it too
        store.ping()  # answers again: asked again at once
        assert store.exists("ok.jpg")
