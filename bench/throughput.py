"""Requests per second and latency of the site served for real, over loopback.

    python bench/throughput.py [--sizes 1000 100000] [--setups gunicorn-postgresql
        gunicorn-sqlite default-sqlite] [--seconds 10] [--clients 8] [--workers 2]
        [--cache warm cold] [--people anonymous signed-in] [--quick]

Setups: the app as in production (gunicorn with ``gunicorn.conf.py``), on PostgreSQL (a
database ``bpt_bench_tp`` created and dropped here) or SQLite, and the app as it runs by
default (``python app.py``'s threaded Werkzeug server on SQLite). In the same run, under
the same server and workers, a minimal Flask page rendered by Jinja is the ceiling, and
every page's rate is printed as a share of it.

The load generator is wrk (Debian's ``wrk``), so the generator is never the bottleneck:
``--clients`` connections on two threads for ``--seconds`` each, asking for gzip and
Brotli like a browser. Each page is measured anonymous (no cookie at all) and signed in
(a resident's session cookie), with the public response cache warm (``PUBLIC_CACHE=1``,
a few requests first) and cold (``PUBLIC_CACHE=0``: every request renders). The vote is a
signed-in HTMX POST with the CSRF token, alternating vote and take-back, driven by a
Python load process (wrk would need a script to carry the token). Without wrk on the
PATH the GETs fall back to that Python load process too (and say so).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_DATABASE = "bpt_bench_tp"
BENCH_EMAIL = "bench@example.org"
BENCH_PASSWORD = "bench-password-311"
WRK_LATENCY_RE = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
CEILING_APP = textwrap.dedent(
    """
    from flask import Flask, render_template_string

    app = Flask(__name__)
    PAGE = (
        "<!doctype html><title>{{ title }}</title>"
        "<ul>{% for i in items %}<li>{{ i }}</li>{% endfor %}</ul>"
    )


    @app.get("/")
    def index():
        return render_template_string(PAGE, title="Ceiling", items=range(20))


    if __name__ == "__main__":
        import sys

        app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True, use_reloader=False)
    """
)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the load process -------------------------------------------------------------------


def load(
    base: str, path: str, seconds: float, count: int, clients: int, vote: bool, cookie: str = ""
) -> dict:
    """Drive one URL from ``clients`` threads; the answer is what the clients measured."""
    import requests

    samples: list[float] = []
    errors = [0]
    lock = threading.Lock()
    issued = [0]

    def session_for_vote() -> tuple[requests.Session, str]:
        session = requests.Session()
        page = session.get(f"{base}/sign-in").text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        session.post(
            f"{base}/sign-in",
            data={"csrf_token": token, "email": BENCH_EMAIL, "password": BENCH_PASSWORD},
        )
        token = CSRF_RE.search(session.get(f"{base}/").text).group(1)
        return session, token

    # Signing in (an argon2 check each) happens before the clock starts.
    prepared = [session_for_vote() if vote else (requests.Session(), "") for _ in range(clients)]
    deadline = time.perf_counter() + seconds

    def worker(session: requests.Session, token: str) -> None:
        wanted = 1
        while time.perf_counter() < deadline:
            with lock:
                if issued[0] >= count:
                    return
                issued[0] += 1
            started = time.perf_counter()
            try:
                if vote:
                    response = session.post(
                        f"{base}{path}",
                        data={"wanted": str(wanted), "csrf_token": token},
                        headers={"HX-Request": "true", "X-CSRFToken": token},
                    )
                    wanted = 1 - wanted
                else:
                    headers = {"Accept-Encoding": "gzip, br"}
                    if cookie:
                        headers["Cookie"] = cookie
                    response = session.get(f"{base}{path}", headers=headers)
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                if ok:
                    samples.append(elapsed)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=worker, args=pair) for pair in prepared]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    samples.sort()

    def pick(q: float) -> float:
        return samples[min(len(samples) - 1, int(len(samples) * q))] if samples else 0.0

    return {
        "requests": len(samples),
        "errors": errors[0],
        "rps": len(samples) / wall if wall else 0.0,
        "p50": statistics.median(samples) if samples else 0.0,
        "p95": pick(0.95),
        "p99": pick(0.99),
    }


def run_load(base: str, path: str, args, vote: bool = False, cookie: str = "") -> dict:
    """The load runs in its own process, so the client's work never shares a GIL with the
    server's (the default server is one process)."""
    command = [
        sys.executable,
        __file__,
        "--load",
        json.dumps(
            {
                "base": base,
                "path": path,
                "seconds": args.seconds,
                "count": args.count,
                "clients": args.clients,
                "vote": vote,
                "cookie": cookie,
            }
        ),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds * 3 + 120)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_wrk(base: str, path: str, args, cookie: str = "") -> dict:
    """wrk against one URL: requests per second and the client's p50/p90/p99."""
    command = ["wrk", "-t2", f"-c{args.clients}", f"-d{args.seconds:g}s", "--latency"]
    command += ["-H", "Accept-Encoding: gzip, br"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    done = subprocess.run(
        [*command, f"{base}{path}"], capture_output=True, text=True, timeout=args.seconds + 60
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    out = done.stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = {q: float(v) * UNITS[u] for q, v, u in WRK_LATENCY_RE.findall(out)}
    return {
        "requests": int(total.group(1)) if total else 0,
        "errors": int(bad.group(1)) if bad else 0,
        "rps": float(rate.group(1)) if rate else 0.0,
        "p50": latency.get("50", 0.0),
        "p95": latency.get("90", 0.0),  # wrk prints 90 and 99; the header says so
        "p99": latency.get("99", 0.0),
    }


def measure(base: str, path: str, args, cookie: str = "") -> dict:
    if args.generator == "wrk":
        return run_wrk(base, path, args, cookie)
    return run_load(base, path, args, cookie=cookie)


def session_cookie(base: str) -> str:
    """A signed-in resident's cookie header, signed in before any clock starts."""
    import requests

    session = requests.Session()
    page = session.get(f"{base}/sign-in").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    session.post(
        f"{base}/sign-in",
        data={"csrf_token": token, "email": BENCH_EMAIL, "password": BENCH_PASSWORD},
    )
    return "; ".join(f"{name}={value}" for name, value in session.cookies.items())


def run_probe(base: str, path: str, cookie: str) -> None:
    import requests

    headers = {"Accept-Encoding": "gzip, br", **({"Cookie": cookie} if cookie else {})}
    requests.get(f"{base}{path}", headers=headers, timeout=30)


# ---- the servers ----------------------------------------------------------------------


def wait_until_up(url: str, process: subprocess.Popen, limit: float = 60) -> None:
    import requests

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server stopped with code {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {limit} s")


@contextmanager
def serving(command: list[str], env: dict, port: int, cwd: Path = ROOT):
    log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )
    try:
        try:
            wait_until_up(f"http://127.0.0.1:{port}/", process)
        except RuntimeError:
            log.seek(0)
            print(log.read()[-3000:].decode(errors="replace"), file=sys.stderr)
            raise
        yield f"http://127.0.0.1:{port}"
    finally:
        log.close()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def app_env(url: str, media: str, port: int) -> dict:
    return {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-throughput",
        "BPT311_ENV": "development",  # production cookies are Secure: not sent over http
        "BPT311_DEMO": "0",
        "MEDIA_ROOT": media,
        "RATELIMIT_ENABLED": "0",  # the load is one person voting thousands of times
        "GEOCODER_URL": "http://127.0.0.1:9",
        "MAIL_SERVER": "",
        "LOG_FORMAT": "text",
        "GUNICORN_LOGLEVEL": "warning",
    }


def server_command(kind: str, port: int, args, script: Path | None = None) -> list[str]:
    if kind == "gunicorn":
        module = "ceiling:app" if script else "app:app"
        command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")]
        command += ["--workers", str(args.workers), "--bind", f"127.0.0.1:{port}"]
        command += ["--access-logfile", "/dev/null"] if args.no_access_log else []
        return [*command, "--chdir", str(script.parent if script else ROOT), module]
    if script:
        return [sys.executable, str(script), str(port)]
    return [sys.executable, str(ROOT / "app.py")]  # HOST and PORT come from app_env


# ---- the data -------------------------------------------------------------------------


@contextmanager
def bench_database(engine: str, size: int):
    from bench.common import KEEP, database

    if KEEP:  # the kept database of this size (bench/common.py)
        with database(engine, size) as url:
            yield url
        return
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.sqlite"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from bench.common import PG_URL

    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    try:
        yield make_url(PG_URL).set(database=PG_DATABASE).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, size: int) -> tuple[str, str]:
    """The city, ``size`` reports, the alembic stamp and a verified resident who votes;
    returns (a middle report's tracking number, the media folder)."""
    from flask_migrate import stamp
    from sqlalchemy import select

    from bench.common import seeded_app
    from bpt311.accounts.service import hash_password
    from bpt311.extensions import db
    from bpt311.models import User, utcnow

    app, seconds = seeded_app(url, size)
    with app.app_context():
        stamp()  # the tables are current: the server's start-up must not migrate
        if db.session.scalar(select(User).filter_by(email=BENCH_EMAIL)) is None:
            db.session.add(
                User(
                    email=BENCH_EMAIL,
                    password_hash=hash_password(BENCH_PASSWORD),
                    email_verified_at=utcnow(),
                )
            )
            db.session.commit()
        db.engine.dispose()
    print(f"  {size:,} reports seeded in {seconds:.1f} s", flush=True)
    return f"BPT-{max(size // 2, 1):06d}", app.config["MEDIA_ROOT"]


def paths_for(tracking_number: str) -> dict[str, str]:
    return {
        "/": "/",
        "/reports": "/reports",
        "report page": f"/reports/{tracking_number}",
        "/map": "/map",
        # what the map asks for at its first zoom (bench/map.py measures every zoom)
        "/reports.geojson": "/reports.geojson?bbox=-73.21,41.17,-73.17,41.20&zoom=14",
    }


def print_row(setup, size, cache, who, name, result, ceiling=None) -> None:
    size_label = f"{size:,}" if size else "-"
    errors = f"  ({result['errors']} errors)" if result["errors"] else ""
    share = f"{result['rps'] / ceiling:>8.0%}" if ceiling else f"{'':>8}"
    print(
        f"{setup:20}{size_label:>8} {cache:6}{who:11}{name:19}{result['rps']:>9.1f}{share}"
        f"{result['p50']:>8.1f}{result['p95']:>8.1f}{result['p99']:>8.1f}{result['requests']:>8}"
        f"{errors}",
        flush=True,
    )


def measure_ceiling(kind: str, args) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "ceiling.py"
        script.write_text(CEILING_APP)
        port = free_port()
        env = {"LOG_FORMAT": "text", "GUNICORN_LOGLEVEL": "warning"}
        with serving(server_command(kind, port, args, script), env, port) as base:
            return measure(base, "/", args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument(
        "--setups", nargs="+", default=["gunicorn-postgresql", "gunicorn-sqlite", "default-sqlite"]
    )
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--count", type=int, default=50_000, help="Python load only")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", nargs="+", default=["warm", "cold"])
    parser.add_argument("--people", nargs="+", default=["anonymous", "signed-in"])
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--quick", action="store_true", help="300 reports, 3 s per target")
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        spec = json.loads(args.load)
        print(json.dumps(load(**spec)))
        return
    if args.quick:
        args.sizes, args.seconds = [300], 3
    args.generator = "wrk" if shutil.which("wrk") else "python"

    print(
        f"load: {args.generator}, {args.clients} connections, {args.seconds:g} s per target; "
        f"{args.workers} workers. 'share': req/s as a share of a minimal Flask+Jinja page "
        "under the same server. With wrk the p95 column is wrk's p90."
    )
    print(
        f"{'setup':20}{'reports':>8} {'cache':6}{'who':11}{'target':19}{'req/s':>9}"
        f"{'share':>8}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'n':>8}"
    )
    ceilings: dict[str, float] = {}
    for setup in args.setups:
        kind, engine = setup.split("-")
        kind = "gunicorn" if kind == "gunicorn" else "default"
        if kind not in ceilings:
            result = measure_ceiling(kind, args)
            ceilings[kind] = result["rps"]
            print_row(f"ceiling-{kind}", None, "-", "anonymous", "minimal Jinja page", result)
        for size in args.sizes:
            with bench_database(engine, size) as url:
                print(f"{setup}: seeding", flush=True)
                tracking_number, media = seed(url, size)
                for cache in args.cache:
                    port = free_port()
                    env = app_env(url, media, port)
                    env["PUBLIC_CACHE"] = "1" if cache == "warm" else "0"
                    with serving(server_command(kind, port, args), env, port) as base:
                        cookie = session_cookie(base) if "signed-in" in args.people else ""
                        for name, path in paths_for(tracking_number).items():
                            for who in args.people:
                                given = cookie if who == "signed-in" else ""
                                if cache == "warm":  # the first requests fill the cache
                                    for _ in range(3):
                                        run_probe(base, path, given)
                                result = measure(base, path, args, given)
                                print_row(setup, size, cache, who, name, result, ceilings[kind])
                        if "signed-in" in args.people and cache == args.cache[-1]:
                            vote_path = f"/reports/{tracking_number}/vote"
                            result = run_load(base, vote_path, args, vote=True)
                            print_row(setup, size, cache, "signed-in", "vote POST", result)


if __name__ == "__main__":
    main()
