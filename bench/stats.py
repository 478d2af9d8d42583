"""Server time of /stats, the home page, the dashboard and the staff export, 1,000-100,000 reports.

    python bench/stats.py [--sizes 1000 100000] [--engines sqlite postgresql] [--repeat 10]

Prints p50/p95 milliseconds per page (in-process, through the WSGI app, so it is server
time without the network) and the ratio between the largest and smallest size. Nothing is
kept between requests (the figures come from the daily summary, bpt311/reports/daily.py),
so every request is a cold page. Demo reports spread over about a year, most in the last
few months, so the default twelve weeks hold most of them. BENCH_PG_DATABASE_URL, if set,
is an existing PostgreSQL database to use (its tables are dropped and made again) instead
of a new one.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import compare_sizes, database, seeded_app, timings  # noqa: E402

PAGES = {
    "/stats (last 12 weeks)": "/stats",
    "/ (home page figures)": "/",
    "/stats, a year, one department": "/stats?date_from=YEAR_AGO&department=1",
    "/stats/departments.csv": "/stats/departments.csv",
    "/staff/dashboard": "/staff/dashboard",
    "/staff/export.csv, potholes open": "/staff/export.csv?category=pothole",
}


@contextmanager
def _database(engine: str, size: int):
    existing = os.environ.get("BENCH_PG_DATABASE_URL")
    if engine != "postgresql" or not existing:
        with database(engine, size) as url:
            yield url
        return
    from sqlalchemy import create_engine

    from bpt311.models import drop_schema

    dropper = create_engine(existing)
    drop_schema(dropper)
    dropper.dispose()
    yield existing


def run(engine: str, size: int, repeat: int) -> dict[str, dict[str, float]]:
    from datetime import timedelta

    from sqlalchemy import select

    from bpt311.extensions import db
    from bpt311.models import User, utcnow

    with _database(engine, size) as url:
        app, seeded = seeded_app(url, size)
        print(f"  {engine}, {size:,} reports seeded in {seeded:.1f} s", flush=True)
        with app.app_context():
            admin = db.session.scalar(select(User).filter_by(email="admin@bridgeport.example"))
            if admin is None:  # a kept database (BENCH_KEEP) has it from the last run
                admin = User(email="admin@bridgeport.example", role="admin")
                db.session.add(admin)
                db.session.commit()
            session_id = admin.get_id()
            year_ago = (utcnow() - timedelta(days=364)).date().isoformat()
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = session_id
            session["_fresh"] = True
        results = {}
        for name, path in PAGES.items():
            path = path.replace("YEAR_AGO", year_ago)

            def fetch(path=path):
                response = client.get(path)
                response.get_data()
                assert response.status_code == 200, (path, response.status_code)

            results[name] = timings(fetch, repeat)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        return results


def main() -> None:
    sys.argv += [] if "--repeat" in sys.argv else ["--repeat", "10"]
    compare_sizes(__doc__.splitlines()[0], PAGES, run, label="page")


if __name__ == "__main__":
    main()
