"""The photos of imported reports, fetched after the import by the sweep.

An import only notes each photo's address (an :class:`ImportedPhoto` row, "waiting"); the
sweep (bpt311/jobs/sweep.py, in ``flask notify run``, the dev server's loop and the RQ
worker) fetches a few at a time from whatever public host they are on, under the
server-side request forgery rules of bpt311/outbound.py (https, public addresses only, no
redirect followed), with a size and a type limit, and keeps each as an upload is kept:
re-encoded from its pixels (bpt311/media/photos.py), stored, a Media row, its smaller copies
made by the photo job (bpt311/storage/photo_copies.py).

A photo that cannot be had (gone, too big, not a picture, on a private address) is given
up at once; one whose host is down or busy is tried again later, with a growing wait, and
given up after IMPORT_PHOTO_ATTEMPTS tries. A photo given up is noted on the report (an
internal timeline note; the report keeps its link, ``Report.media_url``). Nothing here
ever stops the sweep.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from io import BytesIO

import requests
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from bpt311 import effects, outbound, storage
from bpt311.extensions import db
from bpt311.media import UploadRefused
from bpt311.media.photos import process_photo
from bpt311.models import ImportedPhoto, Media, Report, TimelineEvent, utcnow
from bpt311.outbound import web_address
from bpt311.storage.photo_copies import make_copies

log = logging.getLogger(__name__)
MAX_PER_REPORT = 5
TIMEOUT = (5, 20)  # seconds to connect, and between two reads
WHOLE_SECONDS = 60  # for the whole photo: a host that trickles it is tried again later
GIVE_UP_AT_ONCE = {400, 401, 403, 404, 405, 410, 414, 451}


class GiveUp(Exception):
    """This photo cannot be had: do not try again."""


class TryLater(Exception):
    """The host is down or busy: try again after a wait."""


def photo_addresses(urls) -> list[str]:
    """The photo addresses worth noting (web addresses, each once, a few at most)."""
    found: list[str] = []
    for url in urls:
        url = web_address(url)
        if url and url not in found:
            found.append(url)
    return found[:MAX_PER_REPORT]


def fetch_waiting(limit: int = 10) -> int:
    """Fetch up to ``limit`` photos whose turn has come; returns how many were tried."""
    now = utcnow()
    ids = db.session.scalars(
        select(ImportedPhoto.id)
        .where(
            ImportedPhoto.state == "waiting",
            or_(ImportedPhoto.retry_at.is_(None), ImportedPhoto.retry_at <= now),
        )
        .order_by(ImportedPhoto.id)
        .limit(limit)
    ).all()
    effects.rollback()
    tried = 0
    for photo_id in ids:
        try:
            if fetch_one(photo_id) != "busy":
                tried += 1
        except Exception:  # one photo's trouble is that photo's alone
            effects.rollback()
            log.exception("Imported photo %s: failed; left for the next sweep", photo_id)
    return tried


def fetch_one(photo_id: int) -> str:
    """Fetch one waiting photo: "done", "retry", "failed", or "busy" (another process has
    it, or it is not waiting)."""
    config = current_app.config
    row = db.session.get(ImportedPhoto, photo_id)
    if row is None or row.state != "waiting":
        effects.rollback()
        return "busy"
    url, attempts = row.url, row.attempts
    if attempts >= config["IMPORT_PHOTO_ATTEMPTS"]:  # its last try ended in an error of ours
        return _give_up(photo_id, row.error or "tried too many times")
    # Claimed with the try counted and the next try's time set first: a process killed
    # while fetching leaves the photo for a later sweep, never for two at once.
    wait = config["IMPORT_PHOTO_BACKOFF_SECONDS"] * (2**attempts)
    claimed = db.session.execute(
        update(ImportedPhoto)
        .where(
            ImportedPhoto.id == photo_id,
            ImportedPhoto.state == "waiting",
            ImportedPhoto.attempts == attempts,
        )
        .values(attempts=attempts + 1, retry_at=utcnow() + timedelta(seconds=wait))
    ).rowcount
    effects.commit()
    if not claimed:
        return "busy"
    try:
        data = download(url, config["IMPORT_PHOTO_MAX_MB"] * 1024 * 1024)
        photo = process_photo(
            BytesIO(data),
            _("The imported photo"),
            max_bytes=config["IMPORT_PHOTO_MAX_MB"] * 1024 * 1024,
            with_variants=False,  # the photo job makes them, as for uploads with a queue
        )
    except (GiveUp, UploadRefused, outbound.DestinationRefused) as exc:
        return _give_up(photo_id, str(exc))
    except (TryLater, requests.RequestException, OSError) as exc:
        if attempts + 1 >= config["IMPORT_PHOTO_ATTEMPTS"]:
            return _give_up(photo_id, str(exc) or type(exc).__name__)
        _note_error(photo_id, str(exc) or type(exc).__name__)
        return "retry"
    return _keep(photo_id, photo)


def download(url: str, max_bytes: int) -> bytes:
    """The bytes at ``url``, at most ``max_bytes``, if it answers 200 with an image."""
    destination = outbound.check_public_fetch(
        url, allow_private=bool(current_app.config["IMPORT_FETCH_ALLOW_PRIVATE"])
    )
    session = outbound.session_for(destination)
    with session, session.get(url, stream=True, timeout=TIMEOUT) as response:
        status = response.status_code
        if status == 429 or status >= 500:
            raise TryLater(f"the host answered {status}")
        if 300 <= status < 400:
            raise GiveUp(f"the host answered {status} (redirects are not followed)")
        if status != 200:
            raise GiveUp(f"the host answered {status}")
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not kind.startswith("image/"):
            raise GiveUp(f"not an image ({kind[:60] or 'no type'})")
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise GiveUp(f"larger than {max_bytes} bytes")
        data, started = bytearray(), time.monotonic()
        for chunk in response.iter_content(64 * 1024):
            data.extend(chunk)
            if len(data) > max_bytes:
                raise GiveUp(f"larger than {max_bytes} bytes")
            if time.monotonic() - started > WHOLE_SECONDS:
                raise TryLater(f"still not whole after {WHOLE_SECONDS} seconds")
    return bytes(data)


def _note_error(photo_id: int, error: str) -> None:
    db.session.execute(
        update(ImportedPhoto).where(ImportedPhoto.id == photo_id).values(error=error[:300])
    )
    effects.commit()


def _give_up(photo_id: int, error: str) -> str:
    row = db.session.get(ImportedPhoto, photo_id)
    if row is None:
        return "failed"
    row.state, row.error, row.retry_at = "failed", error[:300], None
    db.session.add(
        TimelineEvent(
            report_id=row.report_id,
            kind="note",
            internal_note=_(
                "The photo at %(url)s, imported with this report, could not be fetched "
                "(%(error)s); the report keeps its link.",
                url=row.url,
                error=error[:300],
            ),
        )
    )
    effects.commit()
    log.info("Imported photo %s given up: %s", photo_id, error)
    return "failed"


def _keep(photo_id: int, photo) -> str:
    name, thumb = storage.new_name(".jpg"), storage.new_name(".thumb.jpg")
    try:
        storage.write_bytes(name, photo.data)
        storage.write_bytes(thumb, photo.thumb)
    except OSError as exc:  # the store is down and no spool: the next sweep tries again
        storage.delete(name, thumb)
        _note_error(photo_id, str(exc))
        return "retry"
    try:
        row = db.session.get(ImportedPhoto, photo_id)
        report = db.session.get(Report, row.report_id) if row else None
        if row is None or report is None or row.state != "waiting":
            effects.rollback()
            storage.delete(name, thumb)
            return "busy"
        position = db.session.scalar(
            select(func.count(Media.id)).where(Media.report_id == report.id)
        )
        media = Media(
            report_id=report.id,
            kind="photo",
            file_name=name,
            thumb_name=thumb,
            content_type=photo.content_type,
            size_bytes=len(photo.data),
            width=photo.width,
            height=photo.height,
            alt_text=f"Photo of the reported {report.category.name.lower()}"[:300],
            position=position or 0,
            processing_state="processing",  # its copies: the photo job's
        )
        storage.prepare_new_media(media)
        db.session.add(media)
        row.state, row.error, row.retry_at = "done", "", None
        effects.commit()
    except Exception:
        effects.rollback()
        storage.delete(name, thumb)
        raise
    if not effects.jobs_are_queued():  # with a queue the commit gave the photo job its copies
        try:
            make_copies(media.id)
        except OSError as exc:  # sweep_media makes them later
            effects.rollback()
            log.warning("Imported photo %s: copies not made yet: %s", photo_id, exc)
    return "done"
