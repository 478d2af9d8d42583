"""Smaller copies of photos, for srcset.

Copies are made with the photo at upload and named after a hash of its thumbnail
(``v/<key>-<width>x<height>.<ext>``). Every caller that turns a stashed photo into a
Media row gives it the thumbnail's bytes under a new name; the hash leads from that
row back to its copies, so no caller has to carry them along.
"""

from __future__ import annotations

import hashlib
import logging
import re

from sqlalchemy import select

from bpt311 import effects
from bpt311.extensions import db
from bpt311.models import Media
from bpt311.models.reports import VARIANT_EXTENSIONS
from bpt311.storage.files import copy, delete, exists, names_under, read_bytes

log = logging.getLogger(__name__)
VARIANT_RE = re.compile(r"^(?P<key>[0-9a-f]{32})-(?P<width>\d+)x(?P<height>\d+)\.(avif|webp|jpg)$")


def variant_key(thumb: bytes) -> str:
    return hashlib.sha256(thumb).hexdigest()[:32]


def variant_name(key: str, variant) -> str:
    extension = VARIANT_EXTENSIONS[variant.content_type]
    return f"v/{key}-{variant.width}x{variant.height}{extension}"


def attach_variants(media) -> None:
    """Give a new photo's Media row the copies stashed with it (before it is added);
    a photo without any (older, or made elsewhere) simply has none."""
    if media.variants or not media.thumb_name or media.kind != "photo":
        return
    try:
        key = variant_key(read_bytes(media.thumb_name))
        stashed = names_under(f"pending/v-{key}-")
    except OSError:  # no thumbnail to hash yet (its copy waits for the object store)
        return
    found, created = [], []
    for name, _ in stashed:
        final = name.removeprefix("pending/v-")
        match = VARIANT_RE.match(final)
        content_type = next(
            (kind for kind, ext in VARIANT_EXTENSIONS.items() if final.endswith(ext)), None
        )
        if match is None or content_type is None:
            continue
        target = f"v/{final}"
        if not exists(target):
            try:
                copy(name, target)
            except FileExistsError:  # another request placed the same copy just now
                pass
            except FileNotFoundError:  # another request's stash of the same photo went
                continue
            else:
                created.append(target)
        found.append([content_type, int(match["width"]), int(match["height"])])
    if found:
        media.variant_key = key
        media.variants = found
        if created:
            effects.undo_on_rollback(_delete_unsent, *created, unless=_copies_owned)


def variant_files(media) -> list[str]:
    """The names of a Media row's copies, to delete with its file and thumbnail."""
    return [
        f"v/{media.variant_key}-{width}x{height}{VARIANT_EXTENSIONS[kind]}"
        for kind, width, height in media.variants or []
        if kind in VARIANT_EXTENSIONS
    ]


def files_to_delete(media_rows) -> list[str]:
    """Every file of these Media rows that no other row needs: copies are named after the
    photo's content, so the same photo sent with another report shares them."""
    rows = list(media_rows)
    keys = {m.variant_key for m in rows if m.variant_key}
    shared = set()
    if keys:
        shared = set(
            db.session.scalars(
                select(Media.variant_key).where(
                    Media.variant_key.in_(keys), Media.id.not_in([m.id for m in rows])
                )
            )
        )
    names = []
    for media in rows:
        names += [media.file_name, media.thumb_name]
        if media.variant_key not in shared:
            names += variant_files(media)
    return list(dict.fromkeys(n for n in names if n))


def _copies_owned(*names: str) -> bool:
    """Whether a Media row has these copies (a commit whose outcome was unknown did
    happen, or another row has the same photo)."""
    keys = {m["key"] for name in names if (m := VARIANT_RE.match(name.removeprefix("v/")))}
    return bool(keys) and (
        db.session.scalar(select(Media.id).where(Media.variant_key.in_(keys)).limit(1)) is not None
    )


def file_owned(name: str) -> bool:
    """Whether a Media row has this file or thumbnail."""
    owner = select(Media.id).where((Media.file_name == name) | (Media.thumb_name == name))
    return db.session.scalar(owner.limit(1)) is not None


def _delete_unsent(*names: str) -> None:
    """Copies linked for a photo whose transaction failed go with it: a form never sent
    must leave no copy of the photo behind."""
    try:
        delete(*names)
    except OSError as exc:
        log.error("Could not remove copies of a photo not sent: %s", exc)


def prepare_new_media(media) -> None:
    """Before a new photo or video row is added: link the copies stashed with it (deleted
    again if the transaction fails) and, when a job is to make the copies (or a video's
    clean copy), mark it "processing" and name the job to start once committed."""
    attach_variants(media)
    if (
        media.kind == "photo"
        and media.thumb_name
        and not media.variants
        and media.processing_state in (None, "ready")
        and effects.jobs_are_queued()
    ):
        media.processing_state = "processing"  # copies not made yet: the job makes them
    if media.processing_state == "processing":
        effects.start_job("media", media)
