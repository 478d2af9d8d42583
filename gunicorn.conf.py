"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py app:app``.

Every setting comes from the environment (see docs/deployment.md). Each worker is
a separate process with its own database pool; nothing that matters lives in a
worker's memory (sessions are signed cookies, rate limits are in Redis), so any
number of workers on any number of hosts can answer any request. The email
outbox is delivered by its own process (``flask --app app notify run``), never by
a thread of the web workers.
"""

import multiprocessing
import os
import shutil
import tempfile

from gunicorn import glogging

# Prometheus counters of every worker are kept as files here and added up at scrape
# time. Set before any worker imports prometheus_client; emptied at each start.
_metrics_dir_given = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
if not _metrics_dir_given:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bpt311-metrics-")

bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "") or multiprocessing.cpu_count() * 2 + 1)
# Sync workers behind a buffering TLS proxy; GUNICORN_THREADS > 1 switches to gthread.
threads = int(os.environ.get("GUNICORN_THREADS", "") or 1)
timeout = int(
    os.environ.get("GUNICORN_TIMEOUT", "") or 60
)  # a large photo is re-encoded in-request
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then, staggered, so slow leaks never matter. Not too often: a
# new worker imports the app again (about a second) and starts with an empty in-process
# page cache; at 2,000 a worker serving cached pages restarted every two seconds under
# load, and one request in ten waited for it (bench/throughput.py's p90). Staggered
# widely: with a jitter of 2,000, workers sharing the load evenly crossed their limits
# within a second of each other, and for that second none was serving (p99 of 0.6-1.4 s).
max_requests = 20000
max_requests_jitter = 10000
# Off: each worker imports the app itself after the fork, so no database connection,
# Redis socket or thread is ever shared between processes. GUNICORN_PRELOAD=1 saves
# memory; post_fork below then drops the pools the master opened.
preload_app = os.environ.get("GUNICORN_PRELOAD", "").strip().lower() in {"1", "true", "yes", "on"}
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "bpt311"
# gunicorn's control socket defaults to one path per user, which several gunicorns on
# one host would fight over: off unless given a path of its own.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip() or "gunicorn.ctl"
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET", "").strip()


class JsonLogger(glogging.Logger):
    """Access log lines as JSON objects (with the request id the app echoed), and
    gunicorn's own messages as JSON too unless LOG_FORMAT=text: through the app's one
    JSON formatter (bpt311.ops.logs.JsonFormatter), so every line has the same shape."""

    def setup(self, cfg):
        # Imported here, not at the top: importing bpt311 must come after
        # PROMETHEUS_MULTIPROC_DIR is set above (prometheus_client reads it on import).
        from bpt311.ops.logs import JsonFormatter

        super().setup(cfg)
        for handler in self.access_log.handlers:
            handler.setFormatter(JsonFormatter())
        if os.environ.get("LOG_FORMAT", "json").strip().lower() != "text":
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        status = int(atoms["s"]) if str(atoms["s"]).isdigit() else atoms["s"]
        line = {
            "message": f"{atoms['m']} {atoms['U']} {status}",
            "remote_addr": atoms["h"],
            "method": atoms["m"],
            "path": atoms["U"],
            "query": atoms["q"],
            "status": status,
            "bytes": atoms["B"],
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "request_id": atoms.get("{x-request-id}o", ""),
            "user_agent": atoms["a"],
            "pid": os.getpid(),
        }
        try:
            self.access_log.info(line)  # a dict: its keys become the line's fields
        except Exception:
            self.exception("Could not write the access log line")


logger_class = JsonLogger


def on_starting(server):
    """A fresh metrics folder: counters from a previous run must not be added in."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if _metrics_dir_given and os.path.isdir(folder):
        for name in os.listdir(folder):
            if name.endswith(".db"):
                os.unlink(os.path.join(folder, name))
    os.makedirs(folder, exist_ok=True)


def post_fork(server, worker):
    if not server.cfg.preload_app:
        return
    # The app was built in the master: never share its pooled connections with children.
    from bpt311.extensions import db
    from bpt311.ops import replica

    flask_app = server.app.wsgi()
    with flask_app.app_context():
        db.engine.dispose(close=False)
    replica.dispose(flask_app)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if not _metrics_dir_given:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
