"""The job queue: slow work (email delivery, watch-area matching, photo copies) done by
``flask jobs worker``
processes through RQ on Redis, with retries, backoff and a dead-letter list for admins.

The database stays the source of truth: a job only says "deliver outbox row N now", "tell
the watchers of watch event N" or "make the copies of photo N", and the periodic sweeps
(``flask notify run``) do whatever a lost job would have done. Without ``REDIS_URL``
nothing is queued and the work is done as before: copies at upload, watchers told in the
request, emails by the outbox loop.
"""

from __future__ import annotations

import os

from flask import Flask

from bpt311 import effects

DEFAULTS = {
    "JOBS_RETRY_INTERVALS": (5, 30, 120, 600, 1800),  # seconds before each retry
    "JOBS_SWEEP_AFTER_SECONDS": 300,  # a photo or watch event still waiting this long is swept
    "JOBS_SWEEP_INTERVAL_SECONDS": 60,
}


def init_app(app: Flask) -> None:
    # wiring, as create_app: `import bpt311.jobs.x` must not load the views and every task
    from bpt311.jobs import queue
    from bpt311.jobs.cli import jobs_cli
    from bpt311.jobs.views import bp
    from bpt311.ops.metrics import set_queue_depth_source

    # Queue names and job ids start with it, so several sites can share one Redis.
    app.config.setdefault("JOBS_PREFIX", os.environ.get("JOBS_PREFIX", "").strip() or "bpt311")
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    app.register_blueprint(bp)
    app.cli.add_command(jobs_cli)
    if app.config.get("REDIS_URL"):
        effects.init_app(app, start_job=queue.start_job)
        set_queue_depth_source(app, lambda: queue.depths(app))
    else:
        effects.init_app(app)
