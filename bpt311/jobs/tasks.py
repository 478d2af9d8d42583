"""The jobs a worker runs. Each takes a row id, does the work at most once in effect
(the outbox's claim; copies named by their content; a watch event's lock and its notices'
unique key), and raises to be retried."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context
from sqlalchemy import update

from bpt311 import effects
from bpt311.extensions import db
from bpt311.jobs.queue import parse_job_id
from bpt311.models import Media, Outbox, utcnow
from bpt311.notify import deliver_one
from bpt311.outbound311.sending import send_now
from bpt311.storage.photo_copies import make_copies
from bpt311.watchers.events import fan_out_later

log = logging.getLogger(__name__)
# The app a worker process runs its jobs for: set once by bpt311.jobs.worker, because RQ
# calls job functions (and failure callbacks) with nothing but their arguments.
worker_app: Flask | None = None


class EmailNotSent(Exception):
    """The email was not handed over; the message says why (RQ retries the job)."""


@contextmanager
def job_context() -> Iterator[None]:
    """A fresh app context (and so a fresh database session) for one job."""
    app = worker_app or (current_app._get_current_object() if has_app_context() else None)
    if app is None:
        raise RuntimeError("Jobs run in `flask --app app jobs worker`, which knows the app.")
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()


def deliver_email(outbox_id: int) -> str:
    """Deliver outbox row ``outbox_id`` now. The outbox's claim makes this once only,
    whether this job runs twice or ``flask notify run`` sends the row meanwhile."""

    with job_context():
        row = db.session.get(Outbox, outbox_id)
        if row is None:
            return "gone"  # purged, or its account was erased
        if row.status == "sent":
            return "sent already"
        if row.status == "dead":
            raise EmailNotSent(f"given up after {row.attempts} attempts: {row.last_error}")
        worker = f"{socket.gethostname()}:{os.getpid()}:job"
        result = deliver_one(outbox_id, worker, utcnow(), on_schedule=False)
        if result == "failed":
            db.session.expire_all()
            raise EmailNotSent(db.session.get(Outbox, outbox_id).last_error)
        return result


def fan_out_watch_event(event_id: int) -> str:
    """Tell the watchers of watch event ``event_id`` (notices, emails, pushes), once."""

    with job_context():
        return fan_out_later(event_id)


def make_photo_copies(media_id: int) -> str:
    """Make a photo's AVIF/WebP/JPEG copies; a storage outage (OSError) is retried."""

    with job_context():
        return make_copies(media_id)


def send_report_on(request_id: int) -> str:
    """Send outbound request ``request_id`` to the city's work-order system, once (its
    claim); a failure keeps the row's own backoff, and the sweep sends it when it is due."""

    with job_context():
        return send_now(request_id)


def job_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ calls this after every failed attempt; after the last one, a photo is marked
    "failed" (it is shown without its copies) until an admin retries the job."""
    if job.retries_left:
        return  # it will be tried again

    with job_context():
        parsed = parse_job_id(job.id)
        log.error("Job %s failed for good and is in the dead letters: %s", job.id, exc_value)
        if parsed and parsed[0] == "media":
            db.session.execute(
                update(Media)
                .where(Media.id == parsed[1], Media.processing_state == "processing")
                .values(processing_state="failed")
            )
            effects.commit()
