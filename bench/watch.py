"""What telling watchers costs per report, at 100, 1,000 and 10,000 watch areas.

    python bench/watch.py [--sizes 100 1000 10000] [--engines sqlite postgresql] [--repeat 200]

Areas are made the way residents would: mostly circles of 100 m to 800 m around a home,
some drawn shapes of a few blocks, a few whole neighbourhoods; a fifth public, some with
followers; a third by email, a third by digest, a third on the site only. For reports at
random points, it times ``watchers_of`` (the bounding-box query, exact point-in-area,
followers and people: the matching) and the whole ``announce`` (matching plus the event,
the notices and the emails, flushed), rolling back after each so every report meets the
same areas. Prints p50/p95 milliseconds and how many areas and people each report met.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text  # noqa: E402

from bench.common import database  # noqa: E402
from bpt311 import create_app  # noqa: E402
from bpt311.extensions import db  # noqa: E402
from bpt311.geo import METRES_PER_DEG_LAT, METRES_PER_DEG_LON, bounding_box  # noqa: E402
from bpt311.models import (  # noqa: E402
    Neighbourhood,
    Report,
    User,
    WatchArea,
    WatchAreaFollow,
    create_schema,
    utcnow,
)


def random_point(rng, area) -> tuple[float, float]:
    min_lon, min_lat, max_lon, max_lat = area.bounds
    while True:
        lat, lon = rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon)
        if area.contains(lat, lon):
            return lat, lon


def star(rng, lat, lon, radius_m) -> dict:
    """A simple polygon of 6 to 40 corners around a point (a few blocks, drawn by hand)."""
    corners = rng.randint(6, 40)
    angles = sorted(rng.uniform(0, 2 * math.pi) for _ in range(corners))
    ring = [
        [
            round(lon + radius_m * rng.uniform(0.6, 1) * math.cos(a) / METRES_PER_DEG_LON, 6),
            round(lat + radius_m * rng.uniform(0.6, 1) * math.sin(a) / METRES_PER_DEG_LAT, 6),
        ]
        for a in angles
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def make_areas(count: int, rng: random.Random) -> None:
    from bpt311.reports.service import service_area

    city = service_area()
    hoods = db.session.scalars(select(Neighbourhood)).all()
    people = max(20, count // 2)
    db.session.execute(
        insert(User),
        [{"email": f"watcher{n}@example.org", "role": "resident"} for n in range(people)],
    )
    user_ids = db.session.scalars(select(User.id)).all()
    now = utcnow()
    rows = []
    for n in range(count):
        lat, lon = random_point(rng, city)
        roll = rng.random()
        row = {
            "owner_id": rng.choice(user_ids),
            "name": f"Area {n}",
            "place_label": "",
            "radius_m": None,
            "neighbourhood_id": None,
            "wants_new": True,
            "wants_status": rng.random() < 0.8,
            "wants_comments": rng.random() < 0.3,
            "all_categories": True,
            "delivery": rng.choice(("email", "digest", "none")),
            "is_public": rng.random() < 0.2,
            "paused_at": now if rng.random() < 0.05 else None,
            "created_at": now,
            "updated_at": now,
        }
        if roll < 0.05:
            hood = rng.choice(hoods)
            row.update(
                shape="neighbourhood",
                geometry_json=hood.geometry_json,
                neighbourhood_id=hood.id,
                min_lat=hood.min_lat,
                min_lon=hood.min_lon,
                max_lat=hood.max_lat,
                max_lon=hood.max_lon,
            )
        elif roll < 0.30:
            geometry = star(rng, lat, lon, rng.uniform(150, 600))
            lons = [p[0] for p in geometry["coordinates"][0]]
            lats = [p[1] for p in geometry["coordinates"][0]]
            row.update(
                shape="polygon",
                geometry_json=json.dumps(geometry),
                min_lat=min(lats),
                min_lon=min(lons),
                max_lat=max(lats),
                max_lon=max(lons),
            )
        else:
            radius = round(100 * 8 ** rng.random())  # 100 m to 800 m, most of them small
            box = bounding_box(lat, lon, radius)
            row.update(
                shape="circle",
                geometry_json=json.dumps({"type": "Point", "coordinates": [lon, lat]}),
                radius_m=radius,
                min_lat=box[0],
                min_lon=box[1],
                max_lat=box[2],
                max_lon=box[3],
            )
        rows.append(row)
    db.session.execute(insert(WatchArea), rows)
    public = db.session.scalars(select(WatchArea.id).where(WatchArea.is_public)).all()
    follows = {
        (area_id, rng.choice(user_ids)) for area_id in public for _ in range(rng.randint(0, 3))
    }
    if follows:
        db.session.execute(
            insert(WatchAreaFollow),
            [
                {"area_id": a, "user_id": u, "delivery": rng.choice(("email", "digest", "none"))}
                for a, u in follows
            ],
        )
    db.session.commit()


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(engine: str, size: int, repeat: int) -> dict:
    from bpt311.seed import load_city, make_demo_reports
    from bpt311.watchers.events import announce
    from bpt311.watchers.matching import candidate_areas, watchers_of

    rng = random.Random(311)
    with database(engine) as url:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "SECRET_KEY": "bench",
                "MEDIA_ROOT": tempfile.mkdtemp(),
                "DEMO_REPORTS": False,
                "GEOCODER_URL": "http://127.0.0.1:9",
                "SITE_URL": "http://bpt311.test",
            }
        )
        with app.app_context():
            create_schema(db.engine)
            load_city()
            make_demo_reports(repeat)
            make_areas(size, rng)
            with db.engine.begin() as connection:
                connection.execute(text("ANALYZE"))
            report_ids = db.session.scalars(select(Report.id)).all()
            matching, total, candidates, watchers, emails = [], [], [], [], []
            for report_id in report_ids[:repeat]:
                report = db.session.get(Report, report_id)
                _ = report.category, report.neighbourhood  # as a service has them already
                point = (report.latitude, report.longitude)
                candidates.append(len(candidate_areas(*point, "new", report.category_id)))
                started = time.perf_counter()
                found = watchers_of(*point, "new", report.category_id)
                matching.append((time.perf_counter() - started) * 1000)
                watchers.append(len(found))
                emails.append(sum(1 for w in found if w.delivery == "email"))
                started = time.perf_counter()
                announce(report, "new")
                db.session.flush()
                total.append((time.perf_counter() - started) * 1000)
                db.session.rollback()
            db.session.remove()
            db.engine.dispose()
    return {
        "matching": (statistics.median(matching), percentile(matching, 0.95)),
        "announce": (statistics.median(total), percentile(total, 0.95)),
        "candidates": statistics.mean(candidates),
        "watchers": statistics.mean(watchers),
        "emails": statistics.mean(emails),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=200, help="reports to announce")
    args = parser.parse_args()
    for engine in args.engines:
        print(f"\n{engine}: per report, milliseconds p50 / p95", flush=True)
        print(
            f"{'areas':>8}{'matching':>18}{'announce (all)':>20}"
            f"{'areas in box':>14}{'people told':>13}{'emails':>8}"
        )
        for size in args.sizes:
            result = run(engine, size, args.repeat)
            print(
                f"{size:>8,}"
                f"{result['matching'][0]:>10.2f} /{result['matching'][1]:>6.2f}"
                f"{result['announce'][0]:>12.2f} /{result['announce'][1]:>6.2f}"
                f"{result['candidates']:>14.1f}{result['watchers']:>13.1f}{result['emails']:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
