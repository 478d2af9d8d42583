"""How fast ``flask import`` writes: the Importer on N GeoReport-like records made in memory
(no network, no parsing), on SQLite and, when it is reachable, PostgreSQL.

    python bench/imports.py [--count 100000] [--engines sqlite postgresql] [--batch 500]

Every third record is closed with the city's note, every fifth has a comment and a photo
address (noted for the sweep, not fetched here). Prints records per second and the total
time per engine; the PostgreSQL database (bench_imports_<pid>) is dropped after.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.common import PG_URL  # noqa: E402
from bpt311 import create_app  # noqa: E402
from bpt311.extensions import db  # noqa: E402
from bpt311.imports.records import Incoming, IncomingComment  # noqa: E402
from bpt311.models import Report, create_schema  # noqa: E402

CITY_HALL = (41.1792, -73.1894)
START = datetime(2023, 1, 1, tzinfo=UTC)


def records(count: int):
    for n in range(count):
        created = START + timedelta(minutes=7 * n)
        closed = n % 3 == 0
        yield Incoming(
            source_id=f"R-{n}",
            category="pothole" if n % 2 else "graffiti",
            description=f"Historic report number {n} — café «corner»",
            latitude=CITY_HALL[0] + (n % 100) * 0.0001,
            longitude=CITY_HALL[1] - (n % 70) * 0.0001,
            created_at=created,
            status="closed" if closed else "open",
            address=f"{n} Main Street",
            closed_at=created + timedelta(days=2) if closed else None,
            updated_at=created + timedelta(days=2) if closed else created,
            status_notes=f"Done on day two ({n})" if closed else "",
            media_urls=[f"https://photos.example/{n}.jpg"] if n % 5 == 0 else [],
            comments=(
                [IncomingComment("Pat N.", f"Still there ({n})", created + timedelta(hours=3))]
                if n % 5 == 0
                else []
            ),
        )


@contextmanager
def database(engine: str):
    if engine == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.sqlite"
        return
    name = f"bench_imports_{os.getpid()}"
    admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # not reachable: said, and skipped
        admin.dispose()
        print(f"  postgresql: not reachable ({type(exc).__name__}), skipped")
        yield None
        return
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(engine: str, count: int, batch: int) -> None:
    from bpt311.imports.service import Importer
    from bpt311.seed import load_city

    with database(engine) as url:
        if url is None:
            return
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "bench",
                "MEDIA_ROOT": tempfile.mkdtemp(),
                "DEMO_REPORTS": False,
                "RATELIMIT_ENABLED": False,
                "GEOCODER_URL": "http://127.0.0.1:9",
            }
        )
        with app.app_context():
            create_schema(db.engine)
            load_city()
            db.session.commit()
            started = time.perf_counter()
            importer = Importer("open311:bench")
            summary = importer.run(records(count), batch_size=batch)
            importer.finish("bench", dry_run=False)
            took = time.perf_counter() - started
            made = db.session.scalar(select(func.count(Report.id)))
            assert made == count == summary.imported, (made, summary.counts())
            again = time.perf_counter()
            second = Importer("open311:bench").run(records(count), batch_size=batch)
            rerun = time.perf_counter() - again
            assert second.unchanged == count, second.counts()
            db.session.remove()
            db.engine.dispose()
        print(
            f"  {engine:10} {count:>9,} records in {took:7.1f} s = {count / took:7,.0f}/s;"
            f" run again (all unchanged) {rerun:6.1f} s = {count / rerun:7,.0f}/s",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    print(f"Importer, {args.count:,} records, batches of {args.batch}:")
    for engine in args.engines:
        run(engine, args.count, args.batch)


if __name__ == "__main__":
    main()
