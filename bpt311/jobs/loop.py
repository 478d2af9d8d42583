"""The outbox loop: without a job queue (and beside one, for what its jobs lost), a
worker pass delivers the due emails and pushes and runs the sweep, in ``flask notify
run`` or, in development, a thread of the web process. It sits above the channels it
drives (notify, push) and the sweep, so none of them imports it."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import Flask

from bpt311 import effects, notify, push
from bpt311.extensions import db
from bpt311.jobs import sweep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PassResult:
    emails: int = 0
    pushes: int = 0
    swept: int = 0


def run_pass(worker: str | None = None, now: datetime | None = None) -> PassResult:
    """One pass of the worker: due emails, due pushes, then the sweep. The parts run
    independently: one raising (its error logged) does not keep the others from running."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    parts = {
        "emails": lambda: notify.deliver_due(worker, now=now),
        "pushes": lambda: push.deliver_push_due(worker, now=now),  # a no-op without keys
        "swept": sweep.sweep_when_due,  # photos and watch events whose job was lost
    }
    done = {}
    for name, part in parts.items():
        try:
            done[name] = part()
        except Exception:  # a database outage, or a bug in one part
            log.exception("The %s part of the outbox pass failed; the others go on", name)
            effects.rollback()
            done[name] = 0
    return PassResult(**done)


def run_worker(app: Flask, stop: threading.Event, interval: float = 5.0) -> None:
    """Deliver in a loop until ``stop`` is set; survives database and SMTP outages."""
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    while not stop.is_set():
        with app.app_context():
            try:
                run_pass(worker)
            except Exception:  # nothing must kill the worker
                log.exception("Outbox pass failed; trying again in %s s", interval)
                effects.rollback()
            finally:
                db.session.remove()
        stop.wait(interval)


def start_background_worker(app: Flask, interval: float = 5.0) -> threading.Event:
    """Development only: deliver the outbox from a thread of the web process."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker, args=(app, stop, interval), name="outbox", daemon=True
    )
    thread.start()
    return stop
