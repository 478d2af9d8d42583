"""The sweep: photos left "processing" and watch events whose watchers were not told,
because their job was lost (Redis was down when they were made, or was emptied), get a
job again, or are done here if Redis is still down (or no longer configured); media
spooled on this host while the object store was down are sent to it.
Emails need no sweep here: ``flask notify run`` delivers every due outbox row."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bpt311.extensions import db
from bpt311.jobs import queue

log = logging.getLogger(__name__)
LAST_SWEEP = "bpt311.jobs.last_sweep"


def sweep_when_due() -> int:
    """Called by every outbox pass; sweeps at most once a JOBS_SWEEP_INTERVAL_SECONDS."""
    app = current_app._get_current_object()
    now = time.monotonic()
    if now - app.extensions.get(LAST_SWEEP, -1e9) < app.config["JOBS_SWEEP_INTERVAL_SECONDS"]:
        return 0
    app.extensions[LAST_SWEEP] = now
    return sweep_media() + sweep_watch_events() + retry_spooled_media()


def retry_spooled_media() -> int:
    """Media this host kept in its spool while the object store was down go to the store
    (``storage.retry_pending_media``); while it is still down they keep waiting."""
    from bpt311 import storage

    try:
        done = storage.retry_pending_media()
    except storage.StorageUnavailable as exc:
        log.warning("Media waiting for the object store: %s", exc)
        return 0
    moved = done.copied + done.uploaded + done.deleted
    if moved:
        log.info("Object store back: %s spooled media operations replayed", moved)
    return moved


def sweep_media(limit: int = 20, older_than: float | None = None) -> int:
    """Give each photo processing for longer than JOBS_SWEEP_AFTER_SECONDS its job again
    (unless Redis still holds one), or make its copies here when Redis is down. Returns
    how many were queued or done."""
    from bpt311.jobs.photos import make_copies
    from bpt311.models import Media, utcnow

    seconds = current_app.config["JOBS_SWEEP_AFTER_SECONDS"] if older_than is None else older_than
    stale = db.session.scalars(
        select(Media.id)
        .where(
            Media.processing_state == "processing",
            Media.created_at <= utcnow() - timedelta(seconds=seconds),
        )
        .order_by(Media.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    handled = 0
    for media_id in stale:
        if queue.enabled():
            try:
                if queue.job_exists("media", media_id):
                    continue  # on its way, waiting for a retry, or in the dead letters
            except queue.QueueDown:
                pass
            else:
                if queue.enqueue("media", media_id):
                    handled += 1
                    continue
        try:
            make_copies(media_id)
        except OSError as exc:  # the store is down too: the next sweep tries again
            db.session.rollback()
            log.warning("Photo %s: copies not made yet: %s", media_id, exc)
        else:
            handled += 1
    return handled


def sweep_watch_events(limit: int = 50, older_than: float | None = None) -> int:
    """Give each watch event not fanned out for longer than JOBS_SWEEP_AFTER_SECONDS its
    "watch" job again (unless Redis still holds one), or tell its watchers here when Redis
    is down. Returns how many were queued or done."""
    from bpt311.models import WatchEvent, utcnow
    from bpt311.watch.events import fan_out_later

    seconds = current_app.config["JOBS_SWEEP_AFTER_SECONDS"] if older_than is None else older_than
    stale = db.session.scalars(
        select(WatchEvent.id)
        .where(
            WatchEvent.fanned_out_at.is_(None),
            WatchEvent.created_at <= utcnow() - timedelta(seconds=seconds),
        )
        .order_by(WatchEvent.id)
        .limit(limit)
    ).all()
    db.session.rollback()
    handled = 0
    for event_id in stale:
        if queue.enabled():
            try:
                if queue.job_exists("watch", event_id):
                    continue  # on its way, waiting for a retry, or in the dead letters
            except queue.QueueDown:
                pass
            else:
                if queue.enqueue("watch", event_id):
                    handled += 1
                    continue
        try:
            fan_out_later(event_id)
        except SQLAlchemyError as exc:  # a worker doing it at the same time: it wins
            db.session.rollback()
            log.warning("Watch event %s: watchers not told yet: %s", event_id, exc)
        else:
            handled += 1
    return handled
