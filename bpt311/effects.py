"""What must happen once a transaction commits, said by the service that makes the change.

A service writes its rows, names what follows them, and ends with ``effects.commit()``::

    db.session.add(outbox_row)
    effects.start_job("email", outbox_row)          # a worker sends it, once committed
    effects.undo_on_rollback(storage.delete, name)  # a photo placed for a failed change goes
    daily.touch(report)  # its days of the figures' summary counted again, in this transaction
    effects.commit()

Nothing is triggered by ORM or Session events. The durable rows (outbox, watch events,
media waiting for copies) are always written; ``start_job`` only asks the job queue to
take one at once (the queue, when there is one, says how through ``init_app``); without
a queue the periodic sweeps take the same rows through the same functions.

``commit()`` and ``rollback()`` are the only ways bpt311 ends a transaction; what was
named for a transaction that is never ended (an error page) is undone when the app
context ends. ``remembered(key)`` is a set that lives as long as the transaction: who was
already emailed or pushed about a report in it, so nobody is told twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import inspect as sa_inspect

from bpt311.extensions import db

log = logging.getLogger(__name__)
KEY = "bpt311.effects"
STARTER = "bpt311.effects.start_job"


@dataclass
class _Pending:
    jobs: list[tuple[str, Any]] = field(default_factory=list)
    before: list[tuple[Callable, tuple]] = field(default_factory=list)
    after: list[tuple[Callable, tuple]] = field(default_factory=list)
    undo: list[tuple[Callable, tuple]] = field(default_factory=list)
    memory: dict[str, set] = field(default_factory=dict)


def init_app(app: Flask, start_job: Callable[[str, int], Any] | None = None) -> None:
    """``start_job(kind, row_id)``, when given, is called for each row named by
    ``start_job`` once its transaction commits (the job queue's enqueue; given only
    when there is a queue)."""
    app.extensions[STARTER] = start_job
    app.teardown_appcontext(_end_of_context)


def jobs_are_queued() -> bool:
    """Whether a job queue takes the rows named by ``start_job`` (else the periodic
    sweeps do): an upload then leaves its photo's copies to a job, and a watch event
    its watchers. Asked by the lower layers (storage, watch) without importing jobs."""
    return has_app_context() and current_app.extensions.get(STARTER) is not None


def _pending(create: bool = True) -> _Pending | None:
    if create:
        return db.session.info.setdefault(KEY, _Pending())
    return db.session.info.get(KEY)


def start_job(kind: str, row) -> None:
    """Once committed, ask the queue (if any) to take this durable row now."""
    _pending().jobs.append((kind, row))


def before_commit(function: Callable, *args) -> None:
    """Call ``function(*args)`` as the transaction's last statements, after every change
    it named is flushed and before it commits: a summary counted again from the rows
    just written (bpt311/reports/daily.py), so it commits or fails with them."""
    _pending().before.append((function, args))


def after_commit(function: Callable, *args) -> None:
    """Call ``function(*args)`` once the transaction has committed (never if it fails)."""
    _pending().after.append((function, args))


def undo_on_rollback(function: Callable, *args) -> None:
    """Call ``function(*args)`` if the transaction is rolled back or never committed:
    files written for it are deleted, so a failed change leaves nothing half-written."""
    _pending().undo.append((function, args))


def remembered(key: str) -> set:
    """A set kept for the rest of the transaction (emptied when it ends)."""
    return _pending().memory.setdefault(key, set())


def commit() -> None:
    """Commit the session's transaction, then do what it named. A failed commit is
    rolled back and undone, and the error raised."""
    pending = _pending(create=False)
    jobs: list[tuple[str, Any]] = []
    try:
        if pending is not None and pending.before:
            db.session.flush()
            for function, args in pending.before:
                function(*args)
        if pending is not None and pending.jobs:
            db.session.flush()  # ids for the rows the queue will be told about
            jobs = [(kind, _row_id(row)) for kind, row in pending.jobs]
        db.session.commit()
    except Exception:
        rollback()
        raise
    db.session.info.pop(KEY, None)
    if pending is None:
        return
    starter = current_app.extensions.get(STARTER) if has_app_context() else None
    if starter is not None:
        for kind, row_id in dict.fromkeys(jobs):
            if row_id is not None:
                starter(kind, row_id)
    for function, args in pending.after:
        try:
            function(*args)
        except Exception:  # committed is committed: log, and let the sweeps catch up
            log.exception("after-commit step %s failed", getattr(function, "__name__", function))


def _row_id(row) -> Any:
    """The row's primary key, or None for a row deleted in the same transaction
    (an account removed with its queued emails): there is nothing left to start."""
    state = sa_inspect(row)
    if state.deleted or state.was_deleted or state.identity is None:
        return None
    return state.identity[0]


def rollback() -> None:
    """Roll the session's transaction back and undo what was named for it."""
    db.session.rollback()
    _undo(db.session.info.pop(KEY, None))


def _undo(pending: _Pending | None) -> None:
    if pending is None:
        return
    for function, args in pending.undo:
        try:
            function(*args)
        except Exception:
            log.exception("undo step %s failed", getattr(function, "__name__", function))


def _end_of_context(_exc) -> None:
    if not db.session.registry.has():
        return
    session = db.session
    if KEY in session.info:  # named for a transaction that never committed
        _undo(session.info.pop(KEY))
