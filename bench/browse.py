"""Server time of the browse pages at 1,000 and 100,000 reports, on SQLite and PostgreSQL.

    python bench/browse.py [--sizes 1000 100000] [--engines sqlite postgresql] [--repeat 30]

Prints p50/p95 milliseconds per page (in-process, through the WSGI app, so it is
server time without the network) and the ratio between the largest and smallest size.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import compare_sizes, database, seeded_app, timings  # noqa: E402

PAGES = {
    "/reports": "/reports",
    "/reports filtered+searched": "/reports?q=pothole&status=open&group=Streets+and+sidewalks"
    "&sort=votes",
    "/reports.geojson?bbox": "/reports.geojson?bbox=-73.21,41.17,-73.17,41.20",
    "report page": "/reports/MIDDLE",
}


def run(engine: str, size: int, repeat: int) -> dict[str, dict[str, float]]:
    with database(engine, size) as url:
        app, seeded = seeded_app(url, size)
        print(f"  {engine}, {size:,} reports seeded in {seeded:.1f} s", flush=True)
        client = app.test_client()
        results = {}
        for name, path in PAGES.items():
            path = path.replace("MIDDLE", f"BPT-{max(size // 2, 1):06d}")

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
    compare_sizes(__doc__.splitlines()[0], PAGES, run, label="page")


if __name__ == "__main__":
    main()
