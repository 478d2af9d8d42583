"""Operations endpoints and the hooks every request goes through: readiness, Prometheus
metrics, request ids and structured logs."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, abort, current_app, g, jsonify, request
from flask.signals import request_started
from prometheus_client import CONTENT_TYPE_LATEST

from bpt311.extensions import csrf, limiter
from bpt311.ops import logs, metrics, readiness, replica

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz():
    """Liveness: this process answers. It touches nothing else, so a database outage makes
    /readyz fail (stop sending traffic) without /healthz getting the process restarted."""
    response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
@limiter.exempt
def readyz():
    """200 when this process can serve (database, Redis when configured, media storage),
    503 naming what failed; a load balancer stops sending traffic until it recovers."""
    ready, checks = readiness.run_checks()
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
@limiter.exempt
def prometheus_metrics():
    if not metrics.address_allowed(request.remote_addr, current_app.config["METRICS_ALLOWED_IPS"]):
        abort(404)  # no hint that something is here
    response = Response(metrics.exposition(), mimetype=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: Flask) -> None:
    """Hooks that every request goes through (request id, metrics, logs)."""
    logs.configure(app)
    replica.init_app(app)
    csrf.exempt(bp)
    # request_started fires before any before_request function, so even a request
    # refused by the rate limiter has an id and a start time.
    request_started.connect(_start_request, app)
    app.after_request(_finish_request)


def _start_request(_sender, **_extra) -> None:
    g.request_started = time.perf_counter()
    g.request_id = logs.request_id_from(request.headers.get(logs.REQUEST_ID_HEADER))


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[logs.REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    if started is not None:
        endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
        metrics.observe(
            endpoint, request.method, response.status_code, time.perf_counter() - started
        )
    return response
