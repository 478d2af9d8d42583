"""A photo's smaller copies, made after the upload when there is a job queue.

The upload still checks and re-encodes the photo at once (a bad file is refused there),
and the photo and its thumbnail are shown straight away; only the copies for srcset wait
for ``make_copies``. Copies are named after a hash of the thumbnail, so a job that runs
twice (its worker killed halfway) writes the same files again, never a second set.
"""

from __future__ import annotations

from io import BytesIO

from PIL import Image
from sqlalchemy import select, update

from bpt311 import effects, storage
from bpt311.extensions import db
from bpt311.media.photos import make_variants
from bpt311.models import Media
from bpt311.storage.video_copies import make_clean_copy


def make_copies(media_id: int) -> str:
    """Make and store the copies of one photo (a video: its clean copy) and mark it ready;
    "ready already" if so.
    Raises OSError (storage.StorageUnavailable included) for the queue to retry."""

    media = db.session.get(Media, media_id)
    if media is None:
        return "gone"
    if media.processing_state == "ready":
        return "ready already"
    if media.kind == "video":  # the same "media" job, sweep and retry: a clean copy
        return make_clean_copy(media_id)
    thumb_name, file_name = media.thumb_name, media.file_name
    effects.rollback()  # no transaction held open while the pictures are made
    key = storage.variant_key(storage.read_bytes(thumb_name))
    with Image.open(BytesIO(storage.read_bytes(file_name))) as image:
        picture = image.convert("RGB")  # our own clean JPEG: no orientation or profile left
    variants = make_variants(picture)
    names = []
    for variant in variants:
        name = storage.variant_name(key, variant)
        storage.write_bytes(name, variant.data)  # the same name on every run: written once
        names.append(name)
    done = db.session.execute(
        update(Media)
        .where(Media.id == media_id, Media.processing_state != "ready")
        .values(
            variant_key=key,
            variants=[[v.content_type, v.width, v.height] for v in variants],
            processing_state="ready",
        )
    )
    effects.commit()
    if done.rowcount == 0 and db.session.get(Media, media_id) is None:
        # The photo was deleted meanwhile: so are its copies, unless the same photo,
        # sent again, shares them.
        if not db.session.scalar(select(Media.id).where(Media.variant_key == key).limit(1)):
            storage.delete(*names)
        return "gone"
    return "made" if done.rowcount else "ready already"
