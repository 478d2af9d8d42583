"""Server time of the browse pages at 1,000 and 100,000 reports, on SQLite and PostgreSQL.

    python bench/browse.py [--sizes 1000 100000] [--engines sqlite postgresql] [--repeat 30]

Prints p50/p95 milliseconds per page (in-process, through the WSGI app, so it is
server time without the network) and the ratio between the largest and smallest size.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import database, seeded_app, timings  # noqa: E402

PAGES = {
    "/reports": "/reports",
    "/reports filtered+searched": "/reports?q=pothole&status=open&group=Streets+and+sidewalks"
    "&sort=votes",
    "/reports.geojson?bbox": "/reports.geojson?bbox=-73.21,41.17,-73.17,41.20",
    "report page": "/reports/BPT-000500",
}


def run(engine: str, size: int, repeat: int) -> dict[str, dict[str, float]]:
    with database(engine) as url:
        app, seeded = seeded_app(url, size)
        print(f"  {engine}, {size:,} reports seeded in {seeded:.1f} s", flush=True)
        client = app.test_client()
        results = {}
        for name, path in PAGES.items():

            def fetch(path=path):
                response = client.get(path)
                response.get_data()
                assert response.status_code == 200, (path, response.status_code)

            results[name] = timings(fetch, repeat)
        from bpt311.extensions import db

        with app.app_context():
            db.engine.dispose()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    for engine in args.engines:
        by_size = {size: run(engine, size, args.repeat) for size in args.sizes}
        print(f"\n{engine}: milliseconds of server time (p50 / p95)")
        header = "".join(f"{size:>22,}" for size in args.sizes)
        print(f"{'page':32}{header}{'ratio p50':>12}")
        for name in PAGES:
            cells = "".join(
                f"{by_size[s][name]['p50']:>12.1f} /{by_size[s][name]['p95']:>7.1f}"
                for s in args.sizes
            )
            ratio = by_size[args.sizes[-1]][name]["p50"] / by_size[args.sizes[0]][name]["p50"]
            print(f"{name:32}{cells}{ratio:>12.2f}")
        print(flush=True)


if __name__ == "__main__":
    main()
