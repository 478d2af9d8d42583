"""Where processed photos and videos live: final files, and a short-lived stash for
uploads whose report has not been sent yet (so a form with an error keeps them)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, object_session

log = logging.getLogger(__name__)
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
STASH_MAX_AGE_SECONDS = 24 * 3600
VARIANT_EXTENSIONS = {"image/avif": ".avif", "image/webp": ".webp", "image/jpeg": ".jpg"}
VARIANT_RE = re.compile(r"^(?P<key>[0-9a-f]{32})-(?P<width>\d+)x(?P<height>\d+)\.(avif|webp|jpg)$")


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


def new_name(extension: str) -> str:
    """An unguessable file name: media URLs cannot be enumerated."""
    return secrets.token_hex(16) + extension


def _temporary_beside(path: Path) -> Path:
    """A private temporary name next to ``path``: two requests writing the same file at
    once (the same photo sent twice makes the same copies) never share one."""
    return path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")


def write_bytes(name: str, data: bytes) -> Path:
    path = media_root() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_beside(path)
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a file
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half file behind
        raise
    return path


def write_stream(name: str, stream: IO[bytes]) -> Path:
    path = media_root() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_beside(path)
    try:
        with open(tmp, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
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
    variant_files: list[str] = field(default_factory=list)

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
        write_bytes(f"pending/{item.token}.json", json.dumps(asdict(item)).encode())
    except OSError as exc:  # the disk is full (or failing): keep nothing of this upload
        from bpt311.media import UploadRefused

        delete(item.file_name, item.thumb_name, *item.variant_files)
        log.error("Could not store an upload: %s", exc)
        raise UploadRefused(
            f"{original_name or 'Your file'} could not be saved just now. Send the report "
            "without it, or try again later."
        ) from exc
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
        variants=photo.variants,
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
    delete(item.file_name, item.thumb_name, f"pending/{item.token}.json", *item.variant_files)


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


# ---- smaller copies of photos, for srcset -------------------------------------------------
#
# Copies are made with the photo at upload and named after a hash of its thumbnail
# (``v/<key>-<width>x<height>.<ext>``). Every caller that turns a stashed photo into a
# Media row gives it the thumbnail's bytes under a new name; the hash leads from that
# row back to its copies, so no caller has to carry them along.


def variant_key(thumb: bytes) -> str:
    return hashlib.sha256(thumb).hexdigest()[:32]


def variant_name(key: str, variant) -> str:
    extension = VARIANT_EXTENSIONS[variant.content_type]
    return f"v/{key}-{variant.width}x{variant.height}{extension}"


def attach_variants(media) -> None:
    """Give a new photo's Media row the copies stashed with it (called before its INSERT);
    a photo without any (older, or made elsewhere) simply has none."""
    if media.variants or not media.thumb_name or media.kind != "photo":
        return
    try:
        key = variant_key(file_path(media.thumb_name).read_bytes())
    except OSError:
        return
    pending = media_root() / "pending"
    found, created = [], []
    for path in sorted(pending.glob(f"v-{key}-*")):
        final = path.name.removeprefix("v-")
        match = VARIANT_RE.match(final)
        content_type = next(
            (kind for kind, ext in VARIANT_EXTENSIONS.items() if final.endswith(ext)), None
        )
        if match is None or content_type is None:
            continue
        target = media_root() / "v" / final
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except FileExistsError:
                pass
            except FileNotFoundError:  # another request's stash of the same photo went
                continue
            except OSError:
                shutil.copyfile(path, target)
                created.append(f"v/{final}")
            else:
                created.append(f"v/{final}")
        found.append([content_type, int(match["width"]), int(match["height"])])
    if found:
        media.variant_key = key
        media.variants = found
        session = object_session(media)
        if session is not None and created:
            session.info.setdefault("new_variant_files", []).extend(created)


def variant_files(media) -> list[str]:
    """The names of a Media row's copies, to delete with its file and thumbnail."""
    return [
        f"v/{media.variant_key}-{width}x{height}{VARIANT_EXTENSIONS[kind]}"
        for kind, width, height in media.variants or []
        if kind in VARIANT_EXTENSIONS
    ]


@event.listens_for(Session, "after_commit")
def _keep_new_variants(session) -> None:
    session.info.pop("new_variant_files", None)


@event.listens_for(Session, "after_rollback")
def _drop_new_variants(session) -> None:
    """Copies linked for a photo whose transaction failed go with it: a form never sent
    must leave no copy of the photo behind."""
    names = session.info.pop("new_variant_files", None)
    if names:
        for name in names:
            try:
                (media_root() / name).unlink(missing_ok=True)
            except RuntimeError:  # outside an app context: nothing to do
                return
