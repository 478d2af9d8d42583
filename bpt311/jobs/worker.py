"""RQ workers that run our jobs inside the Flask app (``flask --app app jobs worker``)."""

from __future__ import annotations

import redis
from flask import Flask
from rq import SimpleWorker, Worker

from bpt311.extensions import db
from bpt311.jobs import queue, tasks


class AppWorker(Worker):
    """Forks a work horse per job (a job that hangs or crashes takes only the horse)."""

    def main_work_horse(self, job, queue):
        # The horse must not share the parent's database connections across the fork.
        with tasks.worker_app.app_context():
            db.engine.dispose(close=False)
        super().main_work_horse(job, queue)


class AppSimpleWorker(SimpleWorker):
    """Runs jobs in its own process: for tests and platforms without fork()."""


def make_worker(app: Flask, simple: bool = False, kinds=queue.KINDS, name: str | None = None):
    tasks.worker_app = app
    # No read timeout: the worker blocks on Redis for minutes waiting for work.
    client = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2)
    queues = [queue.get_queue(kind, app, client) for kind in kinds]
    cls = AppSimpleWorker if simple else AppWorker
    return cls(queues, connection=client, name=name)
