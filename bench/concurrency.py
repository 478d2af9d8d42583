"""Concurrency at a bigger scale than tests/load/: the app under gunicorn, N signed-in
residents voting and commenting on one report while a clerk changes its status, on
SQLite and PostgreSQL. Prints what was sent, what was stored and how long it took.

    python bench/concurrency.py [--people 1000] [--workers 4] [--engine sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from bench.common import database  # noqa: E402
from bpt311 import create_app  # noqa: E402
from bpt311.extensions import db  # noqa: E402
from bpt311.models import Comment, Report, TimelineEvent, User, Vote, create_schema, utcnow  # noqa: E402
from tests.load import test_concurrency  # noqa: E402
from tests.load.server import SECRET_KEY, gunicorn, server_errors  # noqa: E402


def run(engine: str, people: int, workers: int) -> None:
    with database(engine) as url, tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": SECRET_KEY,
                "MEDIA_ROOT": f"{folder}/media",
                "DEMO_REPORTS": False,
                "GEOCODER_URL": "http://127.0.0.1:9",
            }
        )
        with app.app_context():
            from bpt311.seed import load_city

            create_schema(db.engine)
            load_city()
            from bpt311.models import Category, Department

            category = db.session.scalars(
                select(Category).where(Category.service_code == "pothole")
            ).one()
            now = utcnow()
            report = Report(
                category=category,
                department_id=category.department_id,
                description="A deep pothole in the right lane.",
                latitude=41.1792,
                longitude=-73.1894,
                created_at=now,
                updated_at=now,
                due_at=now + timedelta(hours=category.sla_hours),
            )
            report.events.append(TimelineEvent(kind="submitted", created_at=now))
            clerk = User(
                email="clerk@bridgeport.example",
                role="staff",
                department=db.session.get(Department, category.department_id),
            )
            db.session.add_all([report, clerk])
            db.session.commit()
            residents = [p.get_id() for p in test_concurrency.make_people(people)]
            clerk_id, number, report_id = clerk.get_id(), report.tracking_number, report.id
            db.session.remove()
            log = Path(folder) / "gunicorn.log"
            with gunicorn(url, Path(folder) / "media", log, workers=workers) as base:
                result = test_concurrency.run_load(app, base, residents, clerk_id, number)
            fresh = db.session.get(Report, report_id)
            votes = db.session.scalar(select(func.count(Vote.id)))
            comments = db.session.scalar(select(func.count(Comment.id)))
            codes = result["vote_codes"] + result["comment_codes"] + result["staff_codes"]
            print(
                f"{engine:10} people={people} workers={workers} "
                f"requests~{result['requests']} seconds={result['seconds']:.1f} "
                f"votes={votes}/{fresh.vote_count} comments={comments}/{fresh.comment_count} "
                f"status_changes={len(result['made'])} conflicts={result['conflicts']} "
                f"5xx={sum(code >= 500 for code in codes)} "
                f"server_errors={len(server_errors(log))}"
            )
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    for engine in args.engine or ["sqlite", "postgresql"]:
        run(engine, args.people, args.workers)


if __name__ == "__main__":
    main()
