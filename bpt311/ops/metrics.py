"""Prometheus metrics: requests and their latency by endpoint, the email outbox backlog.

Under gunicorn every worker is its own process. gunicorn.conf.py sets
``PROMETHEUS_MULTIPROC_DIR`` before any worker imports this module, so each
worker keeps its counters in files there and a scrape, whichever worker answers
it, adds up all of them. The outbox backlog is counted in the database at scrape
time: one true figure, not one per process.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Callable

from flask import Flask, current_app
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bpt311 import effects
from bpt311.extensions import db
from bpt311.models import Outbox

log = logging.getLogger(__name__)
disable_created_metrics()  # the *_created series double the output and nothing here reads them

REQUESTS = Counter(
    "bpt311_http_requests",
    "HTTP requests answered, by route endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "bpt311_http_request_duration_seconds",
    "Time from receiving a request to its response, by route endpoint and status.",
    ["endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
QUEUE_DEPTH_HOOK = "bpt311.queue_depth"


def observe(endpoint: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(endpoint, method, str(status)).inc()
    LATENCY.labels(endpoint, str(status)).observe(seconds)


def set_queue_depth_source(app: Flask, source: Callable[[], dict[str, int]]) -> None:
    """The job queue tells the scrape how many jobs wait in each of its queues."""
    app.extensions[QUEUE_DEPTH_HOOK] = source


class ScrapeTimeCollector:
    """Figures read when Prometheus asks: the outbox backlog and the job queues' depth."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        backlog = GaugeMetricFamily(
            "bpt311_outbox_emails",
            "Emails in the outbox not sent yet: pending (due or retrying) and dead.",
            labels=["status"],
        )
        try:
            counts = dict(
                db.session.execute(
                    select(Outbox.status, func.count(Outbox.id))
                    .where(Outbox.status.in_(("pending", "dead")))
                    .group_by(Outbox.status)
                ).all()
            )
        except SQLAlchemyError:
            effects.rollback()
            log.warning("Metrics: the database did not answer; outbox figures left out")
        else:
            for status in ("pending", "dead"):
                backlog.add_metric([status], counts.get(status, 0))
        yield backlog

        depth = GaugeMetricFamily(
            "bpt311_queue_depth",
            "Jobs waiting in each job queue (no samples until a job queue is configured).",
            labels=["queue"],
        )
        source = self.app.extensions.get(QUEUE_DEPTH_HOOK)
        if source is not None:
            try:
                for queue, waiting in source().items():
                    depth.add_metric([queue], waiting)
            except Exception:  # the queue being down must not break the scrape
                log.warning("Metrics: the job queue did not answer", exc_info=True)
        yield depth


def exposition() -> bytes:
    """Every metric in Prometheus text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    at_scrape = CollectorRegistry()
    at_scrape.register(ScrapeTimeCollector(current_app._get_current_object()))
    return text + generate_latest(at_scrape)


def address_allowed(address: str | None, allowed: str) -> bool:
    """Whether ``address`` is in METRICS_ALLOWED_IPS (addresses or networks, commas)."""
    try:
        client = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    for entry in allowed.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            if client in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            log.warning("METRICS_ALLOWED_IPS: %r is not an address or network", entry)
    return False
