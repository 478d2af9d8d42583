"""The short-lived stash of uploads whose report has not been sent yet (so a form with an
error keeps them): checked and processed at upload, kept under ``pending/`` with a JSON
description, found again by their token, and cleaned after a day.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from flask import current_app

from bpt311 import effects
from bpt311.media import UploadRefused
from bpt311.media.photos import process_photo
from bpt311.media.video import check_video, clean_video, read_video
from bpt311.storage.backends import StorageUnavailable
from bpt311.storage.files import (
    copy_sources,
    delete,
    exists,
    names_under,
    read_bytes,
    write_bytes,
    write_stream,
)
from bpt311.storage.variants import variant_key, variant_name

log = logging.getLogger(__name__)
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
STASH_MAX_AGE_SECONDS = 24 * 3600


@dataclass
class StashedMedia:
    """An upload already checked and processed, waiting for its report to be sent."""

    token: str
    kind: str  # "photo" or "video"
    original_name: str
    content_type: str
    extension: str
    size: int
    width: int | None = None
    height: int | None = None
    thumb_width: int | None = None
    thumb_height: int | None = None
    gps: tuple[float, float] | None = None
    variant_files: list[str] = field(default_factory=list)
    # A video is "clean" once copied without its metadata (and given a poster, its
    # thumbnail); until then it is the file as sent, never served (bpt311/storage/video_copies.py).
    clean: bool = False

    @property
    def file_name(self) -> str:
        return f"pending/{self.token}{self.extension}"

    @property
    def thumb_name(self) -> str:
        has_thumb = self.kind == "photo" or self.clean
        return f"pending/{self.token}.thumb.jpg" if has_thumb else ""

    @property
    def servable(self) -> bool:
        """Whether the stashed file may be shown back: a video only once it is clean."""
        return self.kind != "video" or self.clean


def stash(
    kind: str,
    original_name: str,
    content_type: str,
    extension: str,
    size: int,
    data: bytes | None = None,
    thumb: bytes | None = None,
    stream: IO[bytes] | None = None,
    variants=(),
    **dimensions,
) -> StashedMedia:
    item = StashedMedia(
        token=secrets.token_hex(16),
        kind=kind,
        original_name=original_name,
        content_type=content_type,
        extension=extension,
        size=size,
        **dimensions,
    )
    try:
        if stream is not None:
            write_stream(item.file_name, stream)
        else:
            write_bytes(item.file_name, data or b"")
        if thumb is not None:
            write_bytes(item.thumb_name, thumb)
            for variant in variants:
                name = "pending/v-" + variant_name(variant_key(thumb), variant).removeprefix("v/")
                write_bytes(name, variant.data)
                item.variant_files.append(name)
        # Written last: a stash without its description is never found, so never half.
        write_bytes(f"pending/{item.token}.json", json.dumps(asdict(item)).encode())
    except OSError as exc:  # the disk is full (or failing): keep nothing of this upload
        try:
            delete(item.file_name, item.thumb_name, *item.variant_files)
        except OSError:
            pass
        log.error("Could not store an upload: %s", exc)
        raise UploadRefused(
            f"{original_name or 'Your file'} could not be saved just now. Send the report "
            "without it, or try again later."
        ) from exc
    return item


def stash_photo(upload) -> StashedMedia:
    """Check, re-encode and stash an uploaded photo; raises media.UploadRefused with a
    message naming the file when it is not one we keep."""
    photo = process_photo(
        upload.stream,
        upload.filename,
        max_bytes=current_app.config["PHOTO_MAX_MB"] * 1024 * 1024,
        with_variants=not effects.jobs_are_queued(),  # with a job queue, a job makes them
    )
    return stash(
        "photo",
        upload.filename,
        photo.content_type,
        ".jpg",
        len(photo.data),
        data=photo.data,
        thumb=photo.thumb,
        width=photo.width,
        height=photo.height,
        thumb_width=photo.thumb_width,
        thumb_height=photo.thumb_height,
        gps=photo.gps,
        variants=photo.variants,
    )


def stash_video(upload) -> StashedMedia:
    """Check an uploaded video (its kind, size, header and length) and stash it; raises
    media.UploadRefused with a message naming the file when it is not one we keep.

    With a job queue the file is stashed as sent and a job makes the clean copy once the
    report is in (bpt311/storage/video_copies.py); without one the clean copy is made here."""
    config = current_app.config
    checked = check_video(
        upload.stream, upload.filename, max_bytes=config["VIDEO_MAX_MB"] * 1024 * 1024
    )
    max_seconds = config["MAX_VIDEO_SECONDS"]
    info = read_video(
        upload.stream, upload.filename, extension=checked.extension, max_seconds=max_seconds
    )
    if effects.jobs_are_queued():
        return stash(
            "video",
            upload.filename,
            checked.content_type,
            checked.extension,
            checked.size,
            stream=upload.stream,
            width=info.width,
            height=info.height,
        )
    with tempfile.TemporaryDirectory(prefix="bpt311-video-") as folder:
        video = clean_video(
            upload.stream,
            Path(folder),
            upload.filename,
            extension=checked.extension,
            max_seconds=max_seconds,
        )
        with open(video.path, "rb") as clean:
            return stash(
                "video",
                upload.filename,
                video.content_type,
                video.extension,
                video.path.stat().st_size,
                stream=clean,
                thumb=video.poster,
                width=video.width,
                height=video.height,
                thumb_width=video.poster_width,
                thumb_height=video.poster_height,
                clean=True,
            )


def load_stashed(token: str, strict: bool = False) -> StashedMedia | None:
    """The stashed upload for a token from a form, or None if it is unknown or expired.
    With an object store, any process finds what another one stashed; while it is down,
    ``strict`` raises StorageUnavailable rather than answer None (the upload is there,
    only out of reach)."""
    if not TOKEN_RE.match(token or ""):
        return None
    try:
        fields = json.loads(read_bytes(f"pending/{token}.json"))
    except StorageUnavailable:
        if strict:
            raise
        return None
    except (OSError, ValueError):
        return None
    if fields.get("gps"):
        fields["gps"] = tuple(fields["gps"])
    item = StashedMedia(**fields)
    return item if exists(item.file_name) else None


def discard_stashed(item: StashedMedia) -> None:
    names = {item.file_name, item.thumb_name, f"pending/{item.token}.json", *item.variant_files}
    delete(*sorted(names - copy_sources()))  # a copy still to make keeps its source


def clean_stash(max_age_seconds: int = STASH_MAX_AGE_SECONDS) -> int:
    """Delete stashed uploads older than a day: forms that were never sent."""
    cutoff = time.time() - max_age_seconds
    try:
        old = [name for name, modified in names_under("pending/") if modified < cutoff]
    except StorageUnavailable:
        return 0
    old = [name for name in old if name not in copy_sources()]
    delete(*old)
    return len(old)
