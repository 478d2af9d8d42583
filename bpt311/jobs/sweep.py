"""The sweep: photos left "processing" and watch events whose watchers were not told,
because their job was lost (Redis was down when they were made, or was emptied), get a
job again, or are done here if Redis is still down (or no longer configured); media
spooled on this host while the object store was down are sent to it; reports whose
location is to be confirmed are geocoded (bpt311.reports.locating); reports of a category
routed to the city's work-order system are sent on, and its answers brought back every
OPEN311_SYNC_SECONDS (bpt311.outbound311.syncing); the
photos of imported reports are fetched (bpt311.imports.photos).
Emails need no sweep here: ``flask notify run`` delivers every due outbox row."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bpt311 import effects, storage
from bpt311.extensions import db
from bpt311.imports.photos import fetch_waiting
from bpt311.jobs import queue
from bpt311.models import Media, WatchEvent, utcnow
from bpt311.outbound311.sending import send_pending_reports as send
from bpt311.outbound311.syncing import sync_due
from bpt311.reports.locating import place_pending_reports
from bpt311.storage.photo_copies import make_copies
from bpt311.watchers.events import fan_out_later

log = logging.getLogger(__name__)
LAST_SWEEP = "bpt311.jobs.last_sweep"


def sweep_when_due() -> int:
    """Called by every outbox pass; sweeps at most once a JOBS_SWEEP_INTERVAL_SECONDS."""
    app = current_app._get_current_object()
    now = time.monotonic()
    if now - app.extensions.get(LAST_SWEEP, -1e9) < app.config["JOBS_SWEEP_INTERVAL_SECONDS"]:
        return 0
    app.extensions[LAST_SWEEP] = now
    done = 0
    # Independent parts: one raising (logged) does not keep the others from running.
    for part in (
        effects.settle_in_doubt,
        sweep_media,
        sweep_watch_events,
        retry_spooled_media,
        sweep_locations,
        send_pending_reports,
        sync_city_systems,
        sweep_imported_photos,
    ):
        try:
            done += part()
        except Exception:
            log.exception("The sweep's %s failed; the other parts go on", part.__name__)
            effects.rollback()
    return done


def sweep_locations(limit: int = 20) -> int:
    """Reports whose location is to be confirmed (sent while the geocoder was down, or
    without an address) are geocoded here, each retried with its own backoff."""

    try:
        return place_pending_reports(limit)
    except SQLAlchemyError as exc:
        effects.rollback()
        log.warning("Locating reports: not done yet: %s", exc)
        return 0


def send_pending_reports(limit: int = 20) -> int:
    """Reports waiting to go to the city's work-order system are sent (each claimed by one
    sender, retried with its own backoff)."""

    return send(limit)


def sync_city_systems() -> int:
    """The city systems' answers are brought back, each endpoint once an
    OPEN311_SYNC_SECONDS (0: only by `flask open311 sync`)."""

    return sync_due()


def sweep_imported_photos(limit: int = 10) -> int:
    """Photos of imported reports whose turn has come are fetched and kept as uploads are
    (bpt311.imports.photos); each failure is that photo's alone, retried with a backoff."""

    try:
        return fetch_waiting(limit)
    except SQLAlchemyError as exc:
        effects.rollback()
        log.warning("Imported photos: not fetched yet: %s", exc)
        return 0


def retry_spooled_media() -> int:
    """Media this host kept in its spool while the object store was down go to the store
    (``storage.retry_pending_media``); while it is still down they keep waiting."""

    try:
        done = storage.retry_pending_media()
    except storage.StorageUnavailable as exc:
        log.warning("Media waiting for the object store: %s", exc)
        return 0
    moved = done.copied + done.uploaded + done.deleted
    if moved:
        log.info("Object store back: %s spooled media operations replayed", moved)
    return moved


def _stale_ids(model, unfinished, limit: int, older_than: float | None) -> list[int]:
    """Ids of ``model`` rows still ``unfinished`` after JOBS_SWEEP_AFTER_SECONDS."""

    seconds = current_app.config["JOBS_SWEEP_AFTER_SECONDS"] if older_than is None else older_than
    stale = db.session.scalars(
        select(model.id)
        .where(unfinished, model.created_at <= utcnow() - timedelta(seconds=seconds))
        .order_by(model.id)
        .limit(limit)
    ).all()
    effects.rollback()
    return list(stale)


def _requeue_or_do(kind: str, ids: list[int], do_here, failures, what: str) -> int:
    """Give each id its ``kind`` job again (unless Redis still holds one), or, Redis down,
    ``do_here(id)``; ``failures`` (exception types) leave it for the next sweep. Returns
    how many were queued or done."""
    handled = 0
    for row_id in ids:
        if queue.enabled():
            try:
                if queue.job_exists(kind, row_id):
                    continue  # on its way, waiting for a retry, or in the dead letters
            except queue.QueueDown:
                pass
            else:
                if queue.enqueue(kind, row_id):
                    handled += 1
                    continue
        try:
            do_here(row_id)
        except failures as exc:
            effects.rollback()
            log.warning("%s %s: not done yet: %s", what, row_id, exc)
        except Exception:  # one item's trouble is that item's alone: the others go on
            effects.rollback()
            log.exception("%s %s: failed; left for the next sweep", what, row_id)
        else:
            handled += 1
    return handled


def sweep_media(limit: int = 20, older_than: float | None = None) -> int:
    """Give each photo processing for longer than JOBS_SWEEP_AFTER_SECONDS its job again
    (unless Redis still holds one), or make its copies here when Redis is down (the store
    being down too leaves it for the next sweep). Returns how many were queued or done."""

    stale = _stale_ids(Media, Media.processing_state == "processing", limit, older_than)
    return _requeue_or_do("media", stale, make_copies, OSError, "Photo copies of media")


def sweep_watch_events(limit: int = 50, older_than: float | None = None) -> int:
    """Give each watch event not fanned out for longer than JOBS_SWEEP_AFTER_SECONDS its
    "watch" job again (unless Redis still holds one), or tell its watchers here when Redis
    is down (a worker doing it at the same time wins). Returns how many were queued or
    done."""

    stale = _stale_ids(WatchEvent, WatchEvent.fanned_out_at.is_(None), limit, older_than)
    return _requeue_or_do("watch", stale, fan_out_later, SQLAlchemyError, "Watchers of watch event")
