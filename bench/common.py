"""Helpers shared by the benchmark scripts: a fresh database per engine and size."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bpt311 import create_app
from bpt311.extensions import db
from bpt311.models import create_schema

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# A folder: seeded databases are kept (SQLite files there, PostgreSQL databases by name)
# and used again by the next run of the same size, so several benchmarks seed once.
KEEP = os.environ.get("BENCH_KEEP", "")


@contextmanager
def database(engine: str, size: int | None = None):
    """A brand-new empty database URL on ``engine`` ("sqlite" or "postgresql"), removed after;
    with BENCH_KEEP and a ``size``, the kept one of that size (made the first time)."""
    if KEEP and size:
        yield _kept(engine, size)
        return
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.sqlite"
        return
    name = f"bpt311_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _kept(engine: str, size: int) -> str:
    if engine == "sqlite":
        os.makedirs(KEEP, exist_ok=True)
        return f"sqlite:///{os.path.abspath(KEEP)}/bench-{size}.sqlite"
    name = f"bpt311_bench_kept_{size}"
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = text("SELECT 1 FROM pg_database WHERE datname = :n")
        if connection.execute(exists, {"n": name}).first() is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def seeded_app(url: str, reports: int):
    """An app on ``url`` with the city and ``reports`` demo reports, tables analysed (a kept
    database that has them already is used as it is). The public response cache is off:
    each request is rendered, as a cache miss is (bench/throughput.py measures the cache)."""
    from sqlalchemy import func, select

    from bpt311.models import Report

    media = tempfile.mkdtemp()
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "MEDIA_ROOT": media,
            "DEMO_REPORTS": False,
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
            "GEOCODER_URL": "http://127.0.0.1:9",
            "PUBLIC_CACHE": False,
        }
    )
    from bpt311.seed import load_city, make_demo_reports

    with app.app_context():
        create_schema(db.engine)
        if db.session.scalar(select(func.count(Report.id))) == reports:
            db.session.remove()
            _summaries_filled()
            return app, 0.0
        load_city()
        started = time.perf_counter()
        make_demo_reports(reports)
        seeded = time.perf_counter() - started
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return app, seeded


def _summaries_filled() -> None:
    """A kept database seeded before a summary table existed has it now, but empty
    (``create_schema`` made it, and any index it lacked): it is counted from the reports."""
    from sqlalchemy import func, select

    from bpt311.models import daily_figure, map_cell
    from bpt311.reports import daily, map_summary
    from bpt311.site import city_zone

    with db.engine.begin() as connection:
        if not connection.scalar(select(func.count()).select_from(map_cell)):
            map_summary.rebuild(connection)
        if not connection.scalar(select(func.count()).select_from(daily_figure)):
            daily.rebuild(connection, city_zone())


def timings(call, repeat: int) -> dict[str, float]:
    """Milliseconds per call: p50 and p95 over ``repeat`` runs after two warm-ups."""
    for _ in range(2):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p95": samples[min(len(samples) - 1, int(len(samples) * 0.95))],
    }


def compare_sizes(description: str, names, run, label: str = "page") -> None:
    """The shared command line and table of the benchmarks: ``run(engine, size, repeat)``
    returns {name: {"p50": ms, "p95": ms}}; prints each engine's table and the ratio of
    the largest size to the smallest."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    for engine in args.engines:
        by_size = {size: run(engine, size, args.repeat) for size in args.sizes}
        print(f"\n{engine}: milliseconds of server time (p50 / p95)")
        header = "".join(f"{size:>22,}" for size in args.sizes)
        print(f"{label:34}{header}{'ratio p50':>12}")
        for name in names:
            cells = "".join(
                f"{by_size[s][name]['p50']:>12.1f} /{by_size[s][name]['p95']:>7.1f}"
                for s in args.sizes
            )
            ratio = by_size[args.sizes[-1]][name]["p50"] / by_size[args.sizes[0]][name]["p50"]
            print(f"{name:34}{cells}{ratio:>12.2f}")
        print(flush=True)
