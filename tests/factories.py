"""Test data made the way the app makes it, with sensible defaults: departments, categories,
people and reports, and what a resident types into the report form."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import av
from PIL import Image
from sqlalchemy import select

from bpt311 import effects
from bpt311.extensions import db
from bpt311.models import Category, Department, Report, TimelineEvent, User, utcnow
from bpt311.reports import daily

CITY_HALL = (41.1792, -73.1894)


def department(name: str = "Roadway Maintenance") -> Department:
    """One of the seeded departments (bpt311.seed.load_city), by name."""
    return db.session.scalars(select(Department).where(Department.name == name)).one()


def category(code: str = "pothole") -> Category:
    return db.session.scalars(select(Category).where(Category.service_code == code)).one()


def make_report(code: str = "pothole", **fields) -> Report:
    chosen = category(code)
    created = fields.pop("created_at", utcnow())
    report = Report(
        category=chosen,
        department_id=fields.pop("department_id", chosen.department_id),
        description=fields.pop("description", "A deep pothole in the right lane."),
        latitude=fields.pop("latitude", CITY_HALL[0]),
        longitude=fields.pop("longitude", CITY_HALL[1]),
        address=fields.pop("address", "45 Lyon Terrace, Bridgeport, CT"),
        created_at=created,
        updated_at=created,
        due_at=created + timedelta(hours=chosen.sla_hours),
        **fields,
    )
    report.events.append(TimelineEvent(kind="submitted", created_at=created))
    db.session.add(report)
    daily.touch(report)  # as a service would: its days of the figures' summary recounted
    effects.commit()
    return report


def make_user(email: str = "resident@example.org", role: str = "resident", **fields) -> User:
    """An account with a confirmed address (pass ``email_verified_at=None`` for one without:
    such an account gets no email but its confirmation)."""
    fields.setdefault("email_verified_at", utcnow())
    user = User(email=email, role=role, **fields)
    db.session.add(user)
    db.session.commit()
    return user


def make_staff(email: str, department_name: str = "Roadway Maintenance", **fields) -> User:
    """A member of staff of one of the seeded departments."""
    return make_user(email, role="staff", department=department(department_name), **fields)


def hidden(page: str, name: str) -> str:
    """The value of the form field ``name`` on ``page`` ("" if there is none)."""
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', page
    )
    return match.group(1) if match else ""


def report_form_data(client, category="pothole", page=None, **fields) -> dict:
    """What a resident's browser sends from the report form (``page``, else the form for
    ``category``): its CSRF token and submission key, and a complete report at City Hall.
    ``fields`` change or add to it; a field given as None is left out."""
    form = client.get(page or f"/reports/new?category={category}").get_data(as_text=True)
    data = {
        "csrf_token": hidden(form, "csrf_token"),
        "category": category,
        "submission_key": hidden(form, "submission_key"),
        "description": "A deep pothole in the right lane by the bus stop.",
        "latitude": str(CITY_HALL[0]),
        "longitude": str(CITY_HALL[1]),
        "address": "45 Lyon Terrace",
    }
    if category == "pothole":
        data["answer_size"] = "medium"
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def sign_in_as(client, user: User) -> None:
    """Sign a test client in as ``user``, as Flask-Login would after a password check."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


# A phone video's metadata: Bridgeport City Hall, the camera, the time it was recorded.
GPS = "+41.1792-073.1894/"
PHONE_METADATA = {
    "location": GPS,
    "make": "Apple",
    "model": "iPhone 15 Pro",
    "creation_time": "2026-11-30T12:34:56.000000Z",
    "encoder": "PhoneCam 17.1",
}


# kind: (muxer, video codec, audio codec, sample rate); "chrome-webm" is H.264 in a file
# that says it is WebM, as Chrome's MediaRecorder writes it.
VIDEO_KINDS = {
    "mp4": ("mp4", "libx264", "aac", 8000),
    "mov": ("mov", "libx264", "aac", 8000),
    "webm": ("webm", "libvpx-vp9", "libopus", 48000),
    "chrome-webm": ("matroska", "libx264", "libopus", 48000),
}


def phone_video(
    seconds: float = 1,
    fps: int = 10,
    audio: bool = True,
    picture: bool = True,
    rotation: int = 0,
    kind: str = "mp4",
):
    """A real video as a phone writes it (H.264/AAC MP4 unless ``kind`` says otherwise):
    its place, camera and time in the container (as text: movflags use_metadata_tags)
    and in each stream; ``rotation`` (counter-clockwise degrees) as a phone held upright
    records it."""
    muxer, video_codec, audio_codec, rate = VIDEO_KINDS[kind]
    options = {"movflags": "use_metadata_tags"} if muxer in ("mp4", "mov") else {}
    out_file = io.BytesIO()
    with av.open(out_file, "w", format=muxer, options=options) as out:
        out.metadata.update(PHONE_METADATA)
        if picture:
            video = out.add_stream(video_codec, fps)
            video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
            if rotation:
                video.set_display_rotation(rotation)
            video.metadata.update(
                {"creation_time": PHONE_METADATA["creation_time"], "handler_name": "iPhone video"}
            )
        if audio:
            sound = out.add_stream(audio_codec, rate)
            sound.metadata.update({"handler_name": "iPhone sound", "location": GPS})
        for number in range(round(seconds * fps) if picture else 0):
            shade = (number * 25) % 255
            frame = av.VideoFrame.from_image(Image.new("RGB", (64, 48), (shade, 90, 60)))
            out.mux(video.encode(frame))
        if picture:
            out.mux(video.encode())
        if audio:
            samples = 960 if audio_codec == "libopus" else 1024
            for number in range(round(seconds * rate / samples) + 1):
                silence = av.AudioFrame(format="s16", layout="mono", samples=samples)
                silence.planes[0].update(bytes(silence.planes[0].buffer_size))
                silence.sample_rate, silence.pts = rate, number * samples
                out.mux(sound.encode(silence))
            out.mux(sound.encode())
    data = out_file.getvalue()
    if kind == "chrome-webm":
        data = data.replace(b"\x88matroska", b"\x88webm\x00\x00\x00\x00", 1)  # its DocType
    assert GPS.encode() in data and b"iPhone" in data  # the test's own premise
    return data
