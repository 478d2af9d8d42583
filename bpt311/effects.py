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
context ends. When the connection is lost during the COMMIT itself, nobody knows whether
it happened: the undo steps are then kept in this process and done later only where the
change is found not to have committed (``undo_on_rollback(..., unless=...)``, settled
after the next commit and by the sweep). ``remembered(key)`` is a set that lives as long
as the transaction: who was already emailed or pushed about a report in it, so nobody is
told twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import DBAPIError

from bpt311.extensions import db

log = logging.getLogger(__name__)
KEY = "bpt311.effects"
STARTER = "bpt311.effects.start_job"
Undo = tuple[Callable, tuple, Callable[..., bool] | None]
_in_doubt: list[Undo] = []  # undo steps of commits whose outcome is unknown
_in_doubt_lock = threading.Lock()


@dataclass
class _Pending:
    jobs: list[tuple[str, Any]] = field(default_factory=list)
    before: list[tuple[Callable, tuple]] = field(default_factory=list)
    after: list[tuple[Callable, tuple]] = field(default_factory=list)
    undo: list[Undo] = field(default_factory=list)
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


def undo_on_rollback(function: Callable, *args, unless: Callable[..., bool] | None = None) -> None:
    """Call ``function(*args)`` if the transaction is rolled back or never committed:
    files written for it are deleted, so a failed change leaves nothing half-written.

    If the connection is lost during the COMMIT, whether it happened is unknown: the step
    is then done later, once the database answers, unless ``unless(*args)`` says the
    change is there (a row owns the file); without ``unless`` it is then never done (a
    file left over rather than a report that lost its photo)."""
    _pending().undo.append((function, args, unless))


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
        db.session.flush()  # what fails here surely did not commit
    except Exception:
        rollback()
        raise
    try:
        db.session.commit()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            rollback()
            raise
        db.session.rollback()  # the connection went during COMMIT: the outcome is unknown
        _keep_in_doubt(db.session.info.pop(KEY, None))
        raise
    except Exception:
        rollback()
        raise
    db.session.info.pop(KEY, None)
    if _in_doubt:
        settle_in_doubt()
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
    for function, args, _unless in pending.undo:
        try:
            function(*args)
        except Exception:
            log.exception("undo step %s failed", getattr(function, "__name__", function))


def _keep_in_doubt(pending: _Pending | None) -> None:
    if pending is None:
        return
    kept = [step for step in pending.undo if step[2] is not None]
    log.warning("A commit's outcome is unknown (connection lost); %d undo steps wait", len(kept))
    with _in_doubt_lock:
        _in_doubt.extend(kept)


def settle_in_doubt() -> int:
    """Do the undo steps of commits whose outcome was unknown where ``unless`` now says
    the change is not there; keep those it cannot tell yet. Returns how many were done.
    Called after each commit that succeeds and by the sweep; reads only."""
    with _in_doubt_lock:
        steps = list(_in_doubt)
        _in_doubt.clear()
    done, waiting = 0, []
    for function, args, unless in steps:
        try:
            there = unless(*args)
        except Exception:  # the database does not answer yet
            db.session.rollback()
            waiting.append((function, args, unless))
            continue
        if there:
            continue
        try:
            function(*args)
            done += 1
        except Exception:
            log.exception("undo step %s failed", getattr(function, "__name__", function))
    if waiting:
        with _in_doubt_lock:
            _in_doubt.extend(waiting)
    db.session.rollback()  # end the read-only transaction the checks began
    return done


def _end_of_context(_exc) -> None:
    if not db.session.registry.has():
        return
    session = db.session
    if KEY in session.info:  # named for a transaction that never committed
        _undo(session.info.pop(KEY))
