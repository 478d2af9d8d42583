"""A video's clean copy, made after the report is in when there is a job queue.

The upload reads the video's header at once (an unreadable or too long clip is refused
there, naming the file); the file as sent keeps its phone's metadata (place, camera,
dates), so it is never served: the report says "Video processing…" until this job has
copied its picture and sound into a fresh container without any (media.clean_video),
made its poster, and deleted the file as sent. The clean copy's names come from the
original's, so a job that runs twice writes the same files again, never a second set.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from pathlib import Path

from flask import current_app
from sqlalchemy import update

from bpt311 import effects, storage
from bpt311.extensions import db
from bpt311.media import UploadRefused
from bpt311.media.video import clean_video
from bpt311.models import Media

log = logging.getLogger(__name__)
EXTENSIONS = {"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm"}


def make_clean_copy(media_id: int) -> str:
    """Replace one video as sent by its clean copy and poster, and mark it ready; "ready
    already" if so, "refused" (and "failed", the file as sent deleted) if it cannot be
    read after all. Raises OSError (storage.StorageUnavailable included) to be retried."""

    media = db.session.get(Media, media_id)
    if media is None:
        return "gone"
    if media.processing_state == "ready":
        return "ready already"
    sent, content_type = media.file_name, media.content_type
    effects.rollback()  # no transaction held open while the video is copied
    stem = hashlib.sha256(sent.encode()).hexdigest()[:32]
    with tempfile.TemporaryDirectory(prefix="bpt311-video-") as folder:
        original = Path(folder) / f"sent{EXTENSIONS.get(content_type, '.mp4')}"
        with storage.open_file(sent) as stream, open(original, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        try:
            video = clean_video(
                original,
                Path(folder),
                sent,
                extension=original.suffix,
                max_seconds=current_app.config["MAX_VIDEO_SECONDS"],
            )
        except UploadRefused as exc:
            return _refuse(media_id, sent, exc)
        name, poster = f"{stem}{video.extension}", f"{stem}.thumb.jpg"
        with open(video.path, "rb") as clean:
            storage.write_stream(name, clean)  # the same names on every run: written once
        storage.write_bytes(poster, video.poster)
        size = video.path.stat().st_size
    done = db.session.execute(
        update(Media)
        .where(Media.id == media_id, Media.file_name == sent, Media.processing_state != "ready")
        .values(
            file_name=name,
            thumb_name=poster,
            content_type=video.content_type,
            size_bytes=size,
            width=video.width,
            height=video.height,
            processing_state="ready",
        )
    )
    effects.commit()
    if done.rowcount:
        storage.delete(sent)  # the metadata went with it
        return "made"
    if db.session.get(Media, media_id) is None:
        storage.delete(name, poster, sent)  # deleted meanwhile: nothing of it is kept
        return "gone"
    return "ready already"


def _refuse(media_id: int, sent: str, exc: UploadRefused) -> str:
    """A video the header check let through but that cannot be copied (damaged further in,
    or longer than its header said): never shown, and the file as sent is not kept."""

    log.warning("Video of media %s cannot be cleaned: %s", media_id, exc)
    db.session.execute(
        update(Media)
        .where(Media.id == media_id, Media.processing_state != "ready")
        .values(processing_state="failed")
    )
    effects.commit()
    storage.delete(sent)
    return "refused"
