"""The queues on Redis, and enqueueing that never fails the request that asks for it.

Work is enqueued after the transaction that makes it commits (an Outbox row, a photo
whose copies are not made yet, a watch event whose watchers are not told yet), so a
worker always finds the row. Job ids are derived
from the row (``<prefix>-email-<id>``) and enqueued as unique: asking twice queues once.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, current_app
from pybreaker import CircuitBreaker, CircuitBreakerError
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job
from rq.registry import FailedJobRegistry

log = logging.getLogger(__name__)
# Also the order a worker takes them in: emails first. "open311": a report to send on to
# the city's work-order system (its failures wait for the sweep, with their own backoff).
KINDS = ("email", "watch", "media", "open311")
CLIENT_KEY = "bpt311.jobs.redis"
BREAKER_KEY = "bpt311.jobs.breaker"
DOWN_PAUSE_SECONDS = 10  # after a failed enqueue, leave Redis alone this long


class QueueDown(Exception):
    """Redis did not answer: the work is left to the periodic sweeps."""


def enabled(app: Flask | None = None) -> bool:
    app = app or current_app
    return bool(app.config.get("REDIS_URL"))


def connection(app: Flask | None = None) -> redis.Redis:
    """One client per app with short timeouts: a Redis that is down costs half a second
    of a request, never a hung one. (Workers make their own, without a read timeout.)"""
    app = app or current_app._get_current_object()
    client = app.extensions.get(CLIENT_KEY)
    if client is None:
        client = app.extensions[CLIENT_KEY] = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=0.5, socket_timeout=2
        )
    return client


def queue_name(kind: str, app: Flask | None = None) -> str:
    return f"{(app or current_app).config['JOBS_PREFIX']}-{kind}"


def get_queue(kind: str, app: Flask | None = None, client: redis.Redis | None = None) -> Queue:
    app = app or current_app._get_current_object()
    return Queue(queue_name(kind, app), connection=client or connection(app))


def job_id(kind: str, row_id: int, app: Flask | None = None) -> str:
    return f"{queue_name(kind, app)}-{row_id}"


def parse_job_id(value: str, app: Flask | None = None) -> tuple[str, int] | None:
    """(kind, row id) from one of our job ids, or None."""
    prefix = (app or current_app).config["JOBS_PREFIX"] + "-"
    kind, _, row = value.removeprefix(prefix).rpartition("-")
    if not value.startswith(prefix) or kind not in KINDS or not row.isdigit():
        return None
    return kind, int(row)


def retry_policy(app: Flask | None = None) -> Retry:
    intervals = list((app or current_app).config["JOBS_RETRY_INTERVALS"])
    return Retry(max=len(intervals), interval=intervals)


# The function a worker runs for each kind, by the dotted name RQ stores with the job anyway:
# the queue names the tasks without importing them (the tasks import the queue).
TASKS = "bpt311.jobs.tasks"
FUNCTIONS = {
    "email": f"{TASKS}.deliver_email",
    "watch": f"{TASKS}.fan_out_watch_event",
    "media": f"{TASKS}.make_photo_copies",
    "open311": f"{TASKS}.send_report_on",
}


def breaker(app: Flask) -> CircuitBreaker:
    """One per app: after a failed enqueue, Redis is left alone for DOWN_PAUSE_SECONDS
    (a request that enqueues while it is down pays no timeout), then one call tries it."""
    found = app.extensions.get(BREAKER_KEY)
    if found is None:
        found = app.extensions[BREAKER_KEY] = CircuitBreaker(
            fail_max=1,
            reset_timeout=DOWN_PAUSE_SECONDS,
            exclude=[lambda exc: not isinstance(exc, (redis.RedisError, OSError))],
            throw_new_error_on_trip=False,
            name="job queue",
        )
    return found


def enqueue(kind: str, row_id: int) -> bool:
    """Queue the job for one row; False (logged, never raised) when Redis is down."""
    app = current_app._get_current_object()
    try:
        with breaker(app).calling():
            get_queue(kind, app).enqueue(
                FUNCTIONS[kind],
                row_id,
                job_id=job_id(kind, row_id, app),
                unique=True,
                retry=retry_policy(app),
                on_failure=Callback(f"{TASKS}.job_failed"),
                description=f"{kind} {row_id}",
            )
    except CircuitBreakerError:
        return False  # failed moments ago: the sweep will find the row
    except DuplicateJobError:
        return True  # already queued, running, waiting to retry or in the dead letters
    except (redis.RedisError, OSError) as exc:
        log.warning("Job queue unreachable; %s %s is left to the sweep: %s", kind, row_id, exc)
        return False
    return True


def job_exists(kind: str, row_id: int) -> bool:
    """Whether Redis holds a job for this row (queued, running, retrying or dead)."""
    try:
        return Job.exists(job_id(kind, row_id), connection=connection())
    except (redis.RedisError, OSError) as exc:
        raise QueueDown(str(exc)) from exc


def depths(app: Flask) -> dict[str, int]:
    """For /metrics: jobs waiting in each queue, and how many are in the dead letters."""
    client = connection(app)
    found = {}
    dead = 0
    for kind in KINDS:
        queue = get_queue(kind, app, client)
        found[kind] = queue.count
        dead += FailedJobRegistry(queue=queue).count
    found["dead_letter"] = dead
    return found


# ---- enqueue what a transaction made, once it commits ------------------------------------


def start_job(kind: str, row_id: int) -> None:
    """effects' starter: a committed row named by ``effects.start_job`` is queued now when
    there is a queue (the sweeps take it otherwise, or if Redis is down)."""
    if enabled():
        enqueue(kind, row_id)
