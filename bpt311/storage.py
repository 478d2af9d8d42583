"""Where processed photos and videos live: final files, and a short-lived stash for
uploads whose report has not been sent yet (so a form with an error keeps them)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from flask import current_app

TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
STASH_MAX_AGE_SECONDS = 24 * 3600


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


def new_name(extension: str) -> str:
    """An unguessable file name: media URLs cannot be enumerated."""
    return secrets.token_hex(16) + extension


def write_bytes(name: str, data: bytes) -> Path:
    path = media_root() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # readers never see half a file
    return path


def write_stream(name: str, stream: IO[bytes]) -> Path:
    path = media_root() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as out:
        shutil.copyfileobj(stream, out, 1024 * 1024)
    os.replace(tmp, path)
    return path


def delete(*names: str) -> None:
    for name in names:
        if name:
            (media_root() / name).unlink(missing_ok=True)


def file_path(name: str) -> Path:
    return media_root() / name


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

    @property
    def file_name(self) -> str:
        return f"pending/{self.token}{self.extension}"

    @property
    def thumb_name(self) -> str:
        return f"pending/{self.token}.thumb.jpg" if self.kind == "photo" else ""


def stash(
    kind: str,
    original_name: str,
    content_type: str,
    extension: str,
    size: int,
    data: bytes | None = None,
    thumb: bytes | None = None,
    stream: IO[bytes] | None = None,
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
    if stream is not None:
        write_stream(item.file_name, stream)
    else:
        write_bytes(item.file_name, data or b"")
    if thumb is not None:
        write_bytes(item.thumb_name, thumb)
    write_bytes(f"pending/{item.token}.json", json.dumps(asdict(item)).encode())
    return item


def stash_photo(upload) -> StashedMedia:
    """Check, re-encode and stash an uploaded photo; raises media.UploadRefused with a
    message naming the file when it is not one we keep."""
    from bpt311.media import process_photo

    photo = process_photo(
        upload.stream, upload.filename, max_bytes=current_app.config["PHOTO_MAX_MB"] * 1024 * 1024
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
    )


def load_stashed(token: str) -> StashedMedia | None:
    """The stashed upload for a token from a form, or None if it is unknown or expired."""
    if not TOKEN_RE.match(token or ""):
        return None
    meta = media_root() / "pending" / f"{token}.json"
    try:
        fields = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    if fields.get("gps"):
        fields["gps"] = tuple(fields["gps"])
    item = StashedMedia(**fields)
    return item if (media_root() / item.file_name).exists() else None


def discard_stashed(item: StashedMedia) -> None:
    delete(item.file_name, item.thumb_name, f"pending/{item.token}.json")


def clean_stash(max_age_seconds: int = STASH_MAX_AGE_SECONDS) -> int:
    """Delete stashed uploads older than a day: forms that were never sent."""
    folder = media_root() / "pending"
    if not folder.is_dir():
        return 0
    cutoff = time.time() - max_age_seconds
    removed = 0
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
