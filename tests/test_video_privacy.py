"""A phone's video keeps nothing of the phone: sent through the real report form, it is
copied by the media job into a fresh container without its place, camera, dates or
encoder, given a poster, and never served as sent; a clip too long or without a picture
is refused at upload with a message naming it, the rest of the report kept."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import av
import pytest
from PIL import Image
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import Media, Report
from tests.conftest import JOBS_REDIS_URL
from tests.factories import GPS, phone_video
from tests.test_jobs import run_worker
from tests.test_reporting import form_data, post

# Bytes of the phone's metadata that must not be anywhere in what is kept or served.
TELLTALES = (b"41.1792", b"073.1894", b"Apple", b"iPhone", b"PhoneCam", b"Lavf")


def upload(data: bytes, name: str = "IMG_0042.mp4"):
    return (io.BytesIO(data), name)


def the_video() -> Media:
    db.session.expire_all()
    return db.session.scalars(select(Media).where(Media.kind == "video")).one()


def stored_files(app) -> dict[str, bytes]:
    root = Path(app.config["MEDIA_ROOT"])
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def assert_clean(data: bytes, webm: bool = False) -> None:
    """No metadata of the phone's in the bytes, nor as FFmpeg reads them; and it plays."""
    # WebM must name its muxing application: bitexact makes it a bare "Lavf".
    for telltale in TELLTALES[:-1] if webm else TELLTALES:
        assert telltale not in data, telltale
    with av.open(io.BytesIO(data)) as video:
        kept = dict(video.metadata)
        for key in ("major_brand", "minor_version", "compatible_brands"):
            kept.pop(key, None)
        assert kept == ({"encoder": "Lavf"} if webm else {}), video.metadata
        for stream in video.streams:
            assert set(stream.metadata) <= {"language", "handler_name", "DURATION"}
            assert "iPhone" not in stream.metadata.get("handler_name", "")
        assert [s.type for s in video.streams] == ["video", "audio"]
        assert sum(1 for _ in video.decode(video=0)) == 10  # every frame decodes
    if not webm:
        assert data[4:8] == b"ftyp" and data.find(b"moov") < data.find(b"mdat")  # faststart


@pytest.fixture
def queued_city(make_app, jobs_prefix):
    """Bridgeport on an app with a job queue (a real Redis)."""
    app = make_app(REDIS_URL=JOBS_REDIS_URL, JOBS_PREFIX=jobs_prefix)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app


@pytest.mark.parametrize("anonymous", [False, True], ids=["named", "anonymous"])
def test_phone_video_is_served_only_as_a_clean_copy_made_by_the_media_job(queued_city, anonymous):
    client = queued_city.test_client()
    fields = {"anonymous": "y"} if anonymous else {}
    response = post(client, form_data(client, video=upload(phone_video()), **fields))
    assert response.status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert report.anonymous is anonymous
    assert the_video().processing_state == "processing"
    sent = the_video().file_name

    # Before the job: the file as sent is nowhere to be had, and the page says so.
    assert client.get(f"/media/{sent}").status_code == 404
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Video processing…" in page
    assert sent not in page and "<video" not in page

    run_worker(queued_city)

    video = the_video()
    assert video.processing_state == "ready"
    assert video.file_name != sent and video.content_type == "video/mp4"
    assert (video.width, video.height) == (64, 48)
    served = client.get(f"/media/{video.file_name}")
    assert served.status_code == 200 and served.mimetype == "video/mp4"
    assert_clean(served.get_data())
    # The poster is a JPEG shown on the page; the file as sent is gone for good.
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Video processing…" not in page
    tag = re.search(r"<video [^>]*>", page).group(0)
    assert f'poster="/media/{video.thumb_name}"' in tag
    assert f'src="/media/{video.file_name}"' in tag
    poster = client.get(f"/media/{video.thumb_name}")
    assert poster.status_code == 200 and poster.mimetype == "image/jpeg"
    assert poster.get_data().startswith(b"\xff\xd8")
    assert client.get(f"/media/{sent}").status_code == 404
    kept = stored_files(queued_city)
    assert sent not in kept
    assert sorted(kept) == sorted([video.file_name, video.thumb_name])
    assert not any(GPS.encode() in data or b"iPhone" in data for data in kept.values())


def test_without_a_job_queue_the_clean_copy_is_made_at_upload(client, city):
    data = form_data(client, video=upload(phone_video()), anonymous="y")
    assert post(client, data).status_code == 303
    video = the_video()
    assert video.processing_state == "ready" and video.thumb_name
    assert_clean(client.get(f"/media/{video.file_name}").get_data())
    assert client.get(f"/media/{video.thumb_name}").mimetype == "image/jpeg"
    kept = stored_files(city)
    assert sorted(kept) == sorted([video.file_name, video.thumb_name])  # nothing as sent


@pytest.mark.parametrize(
    ("kind", "name", "served_as"),
    [
        ("mov", "IMG_0042.MOV", "video/mp4"),
        ("webm", "clip.webm", "video/webm"),
        ("chrome-webm", "recording.webm", "video/mp4"),  # H.264, which WebM may not hold
    ],
)
def test_every_kind_of_video_is_copied_without_its_metadata(client, city, kind, name, served_as):
    data = form_data(client, video=upload(phone_video(kind=kind), name))
    assert post(client, data).status_code == 303
    video = the_video()
    served = client.get(f"/media/{video.file_name}")
    assert served.mimetype == served_as == video.content_type
    assert_clean(served.get_data(), webm=served_as == "video/webm")
    assert client.get(f"/media/{video.thumb_name}").mimetype == "image/jpeg"


def test_video_held_upright_keeps_its_turn_and_gets_an_upright_poster(client, city):
    data = form_data(client, video=upload(phone_video(rotation=-90)))
    assert post(client, data).status_code == 303
    video = the_video()
    assert (video.width, video.height) == (48, 64)
    served = client.get(f"/media/{video.file_name}").get_data()
    assert_clean(served)
    with av.open(io.BytesIO(served)) as clip:
        assert next(clip.decode(video=0)).rotation == -90  # players turn it as the phone did
    poster = Image.open(io.BytesIO(client.get(f"/media/{video.thumb_name}").get_data()))
    assert poster.size == (48, 64)


@pytest.mark.parametrize("queue", [False, True], ids=["at-upload", "with-a-job-queue"])
def test_too_long_video_is_refused_by_name_and_the_report_is_kept(make_app, jobs_prefix, queue):
    settings = {"REDIS_URL": JOBS_REDIS_URL, "JOBS_PREFIX": jobs_prefix} if queue else {}
    app = make_app(MAX_VIDEO_SECONDS=2, **settings)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        client = app.test_client()
        data = form_data(client, video=upload(phone_video(seconds=4), "long walk.mp4"))
        data["description"] = "Pothole <b>deep</b>\nby the bus stop, lane two."
        response = post(client, data)
        page = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "long walk.mp4 is longer than 2 seconds. Send a shorter clip." in page
        assert "Pothole &lt;b&gt;deep&lt;/b&gt;\nby the bus stop, lane two." in page
        assert db.session.scalar(select(func.count(Report.id))) == 0
        assert not [name for name in stored_files(app) if not name.endswith(".json")]


def test_video_without_a_picture_is_refused_by_name(client, city):
    data = form_data(client, video=upload(phone_video(picture=False), "sound.mp4"))
    response = post(client, data)
    assert response.status_code == 422
    assert "sound.mp4 is not a video we can play" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Report.id))) == 0


def test_video_in_an_object_store_is_cleaned_there(make_app, object_store, jobs_prefix):
    app = make_app(**object_store.settings, REDIS_URL=JOBS_REDIS_URL, JOBS_PREFIX=jobs_prefix)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        client = app.test_client()
        assert post(client, form_data(client, video=upload(phone_video()))).status_code == 303
        sent = the_video().file_name
        assert object_store.names() == {sent}
        assert client.get(f"/media/{sent}").status_code == 404  # no URL to it

        run_worker(app)

        video = the_video()
        assert object_store.names() == {video.file_name, video.thumb_name}
        assert_clean(object_store.read(video.file_name))
        assert client.get(f"/media/{video.file_name}").status_code == 302


@pytest.mark.parametrize("readable", [True, False], ids=["phone-video", "damaged"])
def test_video_stored_as_sent_is_cleaned_by_the_sweep_or_never_shown(client, city, readable):
    """Videos kept as sent before clean copies existed (the migration marks them
    "processing"), or whose job was lost: the sweep does the job's work."""
    from bpt311 import storage
    from bpt311.jobs.sweep import sweep_media
    from bpt311.models import utcnow
    from tests.factories import make_report

    report = make_report()
    sent = storage.new_name(".mp4")
    data = phone_video() if readable else phone_video()[:40] + b"\x00" * 500
    storage.write_bytes(sent, data)
    report.media.append(
        Media(
            kind="video",
            file_name=sent,
            content_type="video/mp4",
            size_bytes=len(data),
            processing_state="processing",
            created_at=utcnow() - timedelta(hours=1),
        )
    )
    db.session.commit()
    assert client.get(f"/media/{sent}").status_code == 404

    assert sweep_media() == 1

    video = the_video()
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert not storage.exists(sent) and client.get(f"/media/{sent}").status_code == 404
    if readable:
        assert video.processing_state == "ready"
        assert_clean(client.get(f"/media/{video.file_name}").get_data())
        assert f'poster="/media/{video.thumb_name}"' in page
    else:
        assert video.processing_state == "failed"
        assert "Video processing…" not in page and "<video" not in page


def test_video_waiting_in_the_form_is_kept_but_not_served_as_sent(queued_city):
    client = queued_city.test_client()
    data = form_data(client, video=upload(phone_video()), description="")
    response = post(client, data)
    assert response.status_code == 422  # no description: the form comes back
    page = response.get_data(as_text=True)
    token = re.search(r'name="pending_media" value="([0-9a-f]{32})"', page).group(1)
    assert "IMG_0042.mp4 is attached" in page
    assert client.get(f"/media/pending/{token}.mp4").status_code == 404

    data = form_data(client, pending_media=token)
    assert post(client, data).status_code == 303
    assert the_video().processing_state == "processing"
    run_worker(queued_city)
    assert_clean(client.get(f"/media/{the_video().file_name}").get_data())
