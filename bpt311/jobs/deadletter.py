"""The dead letters: jobs that failed their last retry, for admins to retry or discard.
Each action writes an audit row, as every other admin action does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import delete, select, update

from bpt311 import effects
from bpt311.audit import record
from bpt311.extensions import db
from bpt311.jobs import queue
from bpt311.models import Media, Outbox, Report, User, WatchEvent, utcnow

LIMIT = 200


class NoSuchJob(Exception):
    """Not in the dead letters (retried or discarded meanwhile, or never there)."""


@dataclass(frozen=True)
class DeadJob:
    id: str
    kind: str  # "email", "watch", "media" or "open311"
    row_id: int
    error: str  # the exception's last line
    failed_at: datetime | None
    subject: str  # what it was about, in words
    report: Report | None


@dataclass(frozen=True)
class QueueState:
    kind: str
    waiting: int
    running: int
    retrying: int
    dead: int


def _registry(kind: str) -> FailedJobRegistry:
    return FailedJobRegistry(queue=queue.get_queue(kind))


def queue_states() -> list[QueueState]:
    states = []
    for kind in queue.KINDS:
        q = queue.get_queue(kind)
        states.append(
            QueueState(
                kind,
                q.count,
                StartedJobRegistry(queue=q).count,
                ScheduledJobRegistry(queue=q).count,
                FailedJobRegistry(queue=q).count,
            )
        )
    return states


def dead_jobs() -> list[DeadJob]:
    """Every job in the dead letters, newest failure first. Raises redis.RedisError."""
    found = []
    for kind in queue.KINDS:
        registry = _registry(kind)
        ids = registry.get_job_ids(0, LIMIT - 1, desc=True)
        for job in Job.fetch_many(ids, connection=queue.connection()):
            parsed = queue.parse_job_id(job.id) if job else None
            if parsed is None:
                continue
            result = job.latest_result()
            error = (result.exc_string if result is not None else "") or ""
            lines = [line for line in error.strip().splitlines() if line.strip()]
            ended = job.ended_at
            if ended is not None and ended.tzinfo is None:
                ended = ended.replace(tzinfo=UTC)
            found.append(
                DeadJob(job.id, kind, parsed[1], lines[-1] if lines else "", ended, "", None)
            )
    return _described(found)


def _described(jobs: list[DeadJob]) -> list[DeadJob]:
    emails = {job.row_id for job in jobs if job.kind == "email"}
    photos = {job.row_id for job in jobs if job.kind == "media"}
    event_ids = {job.row_id for job in jobs if job.kind == "watch"}
    outbox = {
        row.id: row for row in db.session.scalars(select(Outbox).where(Outbox.id.in_(emails)))
    }
    media = {row.id: row for row in db.session.scalars(select(Media).where(Media.id.in_(photos)))}
    events = {
        row.id: row
        for row in db.session.scalars(select(WatchEvent).where(WatchEvent.id.in_(event_ids)))
    }
    reports = {
        report.id: report
        for report in db.session.scalars(
            select(Report).where(Report.id.in_({row.report_id for row in outbox.values()}))
        )
    }
    described = []
    for job in jobs:
        if job.kind == "email":
            row = outbox.get(job.row_id)
            subject = (
                f"Email “{row.subject}” to {row.recipient} (outbox {row.status})"
                if row
                else f"Email {job.row_id} (no longer in the outbox)"
            )
            report = reports.get(row.report_id) if row is not None else None
        elif job.kind == "watch":
            row = events.get(job.row_id)
            subject = f"Watch-area notices of event {job.row_id}" + (
                f" ({row.headline})" if row else " (deleted since)"
            )
            report = row.report if row is not None else None
        elif job.kind == "open311":
            subject, report = f"Sending outbound request {job.row_id} to the city system", None
        else:
            row = media.get(job.row_id)
            subject = f"Copies of photo {job.row_id}" + ("" if row else " (deleted since)")
            report = row.report if row is not None else None
        described.append(
            DeadJob(job.id, job.kind, job.row_id, job.error, job.failed_at, subject, report)
        )
    described.sort(key=lambda job: job.failed_at or datetime.min.replace(tzinfo=UTC))
    return described[::-1]


def _dead(job_id: str) -> tuple[str, int, FailedJobRegistry]:
    parsed = queue.parse_job_id(job_id)
    if parsed is None:
        raise NoSuchJob(job_id)
    registry = _registry(parsed[0])
    if job_id not in registry:
        raise NoSuchJob(job_id)
    return parsed[0], parsed[1], registry


def retry(actor: User, job_id: str) -> None:
    """Put a dead job back on its queue with its full retries; an email given up by the
    outbox is made pending again, a photo "processing" again (a watch event is still
    waiting for its job)."""
    kind, row_id, registry = _dead(job_id)
    if kind == "email":
        db.session.execute(
            update(Outbox)
            .where(Outbox.id == row_id, Outbox.status == "dead")
            .values(status="pending", attempts=0, lease_until=None)
        )
    elif kind == "media":
        db.session.execute(
            update(Media)
            .where(Media.id == row_id, Media.processing_state == "failed")
            .values(processing_state="processing")
        )
    record(actor, "job.retry", target_type=kind, target_id=row_id, job=job_id)
    try:
        job = Job.fetch(job_id, connection=queue.connection())
        job.retries_left = len(queue.retry_policy().intervals)
        job.save()
        registry.requeue(job)
    except (NoSuchJobError, InvalidJobOperation):
        effects.rollback()
        raise NoSuchJob(job_id) from None
    except redis.RedisError:
        effects.rollback()
        raise
    effects.commit()


def discard(actor: User, job_id: str) -> None:
    """Delete a dead job. The outbox row or photo stays as it is (a photo without its
    copies is shown with its thumbnail alone)."""
    kind, row_id, registry = _dead(job_id)
    record(actor, "job.discard", target_type=kind, target_id=row_id, job=job_id)
    try:
        registry.remove(job_id, delete_job=True)
    except redis.RedisError:
        effects.rollback()
        raise
    effects.commit()


# ---- emails the outbox gave up on ------------------------------------------------------


class NoSuchEmail(Exception):
    """Not a given-up email (retried or discarded meanwhile, or never one)."""


@dataclass(frozen=True)
class DeadEmail:
    email: Outbox
    report: Report | None  # the report it was about, if any


def dead_emails() -> list[DeadEmail]:
    """Emails given up after OUTBOX_MAX_ATTEMPTS, newest first (with or without Redis:
    the outbox loop gives up on them as a job would)."""
    rows = db.session.scalars(
        select(Outbox).where(Outbox.status == "dead").order_by(Outbox.id.desc()).limit(LIMIT)
    ).all()
    reports = {
        report.id: report
        for report in db.session.scalars(
            select(Report).where(Report.id.in_({row.report_id for row in rows}))
        )
    }
    return [DeadEmail(row, reports.get(row.report_id)) for row in rows]


def retry_email(actor: User, outbox_id: int) -> None:
    """Make a given-up email pending again with all its attempts, due now; audited."""
    done = db.session.execute(
        update(Outbox)
        .where(Outbox.id == outbox_id, Outbox.status == "dead")
        .values(status="pending", attempts=0, lease_until=None, next_attempt_at=utcnow())
    )
    if done.rowcount != 1:
        effects.rollback()
        raise NoSuchEmail(outbox_id)
    record(actor, "outbox.retry", target_type="outbox", target_id=outbox_id)
    effects.commit()


def discard_email(actor: User, outbox_id: int) -> None:
    """Delete a given-up email for good; audited."""
    done = db.session.execute(delete(Outbox).where(Outbox.id == outbox_id, Outbox.status == "dead"))
    if done.rowcount != 1:
        effects.rollback()
        raise NoSuchEmail(outbox_id)
    record(actor, "outbox.discard", target_type="outbox", target_id=outbox_id)
    effects.commit()
