"""The map at any zoom: server time, features and compressed bytes of what the map asks for.

    python bench/map.py [--sizes 100000] [--engines sqlite postgresql] [--repeat 20]
    python bench/map.py --database sqlite:////tmp/seeded.sqlite   # an already seeded one

Each view is what `/map` asks for when a 1280 x 720 map is centred on City Hall at that
zoom (`/reports.geojson?bbox=…&zoom=…`): counts on a grid below street level, reports at
it. Prints p50/p95 milliseconds in-process through the WSGI app (server time, with the
compression the app does), the features in the answer and its size with gzip and brotli.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database, seeded_app  # noqa: E402

CITY_HALL = (41.1792, -73.1894)
WIDTH, HEIGHT = 1280, 720


def viewport(zoom: int, centre=CITY_HALL) -> str:
    """The bbox of a WIDTH x HEIGHT Web Mercator map at ``zoom`` around ``centre``."""
    lat, lon = centre
    degrees_per_pixel = 360 / (256 * 2**zoom)
    half_lon = WIDTH / 2 * degrees_per_pixel
    half_lat = HEIGHT / 2 * degrees_per_pixel * math.cos(math.radians(lat))
    return f"{lon - half_lon:.5f},{lat - half_lat:.5f},{lon + half_lon:.5f},{lat + half_lat:.5f}"


VIEWS = {
    "city-wide (zoom 12)": {"zoom": 12},
    "city-wide, open potholes (zoom 12)": {"zoom": 12, "status": "open", "category": "pothole"},
    "city at the start (zoom 13)": {"zoom": 13},
    "neighbourhood (zoom 14)": {"zoom": 14},
    "streets (zoom 15)": {"zoom": 15},
    "street (zoom 16, points)": {"zoom": 16},
    "street (zoom 17, points)": {"zoom": 17},
    # What the map asked before it sent its zoom: up to 2,000 full points in the box.
    "before: bbox, no zoom (zoom-13 view)": {"zoom": 13, "without_zoom": True},
}


def timings(call, repeat: int) -> dict[str, float]:
    """Wall-clock p50/p95 ms after two warm-ups, and the p50 of this process's CPU time:
    on a loaded machine the wall clock includes waiting for a core, the CPU time does not
    (with SQLite it is nearly all the work; PostgreSQL's is in its own process)."""
    for _ in range(2):
        call()
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    walls.sort()
    return {
        "p50": statistics.median(walls),
        "p95": walls[min(len(walls) - 1, int(len(walls) * 0.95))],
        "cpu": statistics.median(cpus),
    }


def measure(app, repeat: int) -> dict[str, dict]:
    client = app.test_client()
    results = {}
    for name, params in VIEWS.items():
        query = dict(params, bbox=viewport(params["zoom"]))
        if query.pop("without_zoom", False):
            del query["zoom"]

        def fetch(query=query, coding="gzip"):
            response = client.get(
                "/reports.geojson", query_string=query, headers={"Accept-Encoding": coding}
            )
            body = response.get_data()
            assert response.status_code == 200, (query, response.status_code)
            return body

        result = timings(fetch, repeat)
        plain = client.get("/reports.geojson", query_string=query).get_json()
        result["features"] = len(plain["features"])
        result["shown"] = plain.get("total", len(plain["features"]))
        result["truncated"] = plain.get("truncated", False)
        result["gzip"] = len(fetch(coding="gzip"))
        result["br"] = len(fetch(coding="br"))
        results[name] = result
    return results


def report(title: str, results: dict[str, dict]) -> None:
    print(f"\n{title}")
    print(
        f"{'view':38}{'p50 ms':>9}{'p95 ms':>9}{'CPU ms':>9}{'features':>10}{'reports':>9}"
        f"{'gzip B':>11}{'br B':>11}"
    )
    for name, r in results.items():
        mark = "+" if r["truncated"] else ""
        print(
            f"{name:38}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['cpu']:>9.1f}{r['features']:>10,}"
            f"{r['shown']:>8,}{mark:1}{r['gzip']:>11,}{r['br']:>11,}"
        )
    print("(+ = truncated at the street-level cap)", flush=True)
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--database", help="measure this already seeded database instead")
    args = parser.parse_args()
    if args.database:
        from bpt311 import create_app

        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": args.database,
                "SECRET_KEY": "bench",
                "RATELIMIT_ENABLED": False,
                "DEMO_REPORTS": False,
                "PUBLIC_CACHE": False,  # as seeded_app: each request rendered, a cache miss
            }
        )
        report(args.database, measure(app, args.repeat))
        return
    for engine in args.engines:
        for size in args.sizes:
            with database(engine, size) as url:
                app, seeded = seeded_app(url, size)
                print(f"  {engine}, {size:,} reports seeded in {seeded:.1f} s", flush=True)
                report(f"{engine}, {size:,} reports", measure(app, args.repeat))
                from bpt311.extensions import db

                with app.app_context():
                    db.engine.dispose()


if __name__ == "__main__":
    main()
