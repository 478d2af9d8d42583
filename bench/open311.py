"""Server time of the Open311 API at 1,000 and 100,000 reports, on SQLite and PostgreSQL.

    python bench/open311.py [--sizes 1000 100000] [--engines sqlite postgresql] [--repeat 30]

Prints p50/p95 milliseconds per call (in-process, through the WSGI app, so it is server
time without the network) for the service list, a list of 1,000 requests in JSON and in
XML, one request, and filing a request; and the ratio between the largest and smallest size.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import compare_sizes, database, seeded_app, timings  # noqa: E402

ALL_DATES = "start_date=2000-01-01T00:00:00Z"
CALLS = [
    "GET services.json",
    "GET requests.json (1000 results)",
    "GET requests.xml (1000 results)",
    "GET requests.json last 90 days",
    "GET requests/<id>.json",
    "POST requests.json",
]
FILED = {
    "service_code": "pothole",
    "lat": "41.1792",
    "long": "-73.1894",
    "address_string": "45 Lyon Terrace",  # no reverse geocoding: server time only
    "description": "A deep pothole in the right lane by the bus stop.",
    "attribute[size]": "medium",
}


def run(engine: str, size: int, repeat: int) -> dict[str, dict[str, float]]:
    with database(engine) as url:
        app, seeded = seeded_app(url, size)
        print(f"  {engine}, {size:,} reports seeded in {seeded:.1f} s", flush=True)
        from bpt311.api.keys import create_key
        from bpt311.extensions import db

        with app.app_context():
            key = create_key("bench").secret
        client = app.test_client()
        v2 = "/open311/v2"

        def get(path, expect_items=None):
            def call():
                response = client.get(f"{v2}/{path}")
                data = response.get_data()
                assert response.status_code == 200, (path, response.status_code)
                if expect_items is not None:
                    marker = b"<service_request_id>" if ".xml" in path else b'"service_request_id"'
                    assert data.count(marker) == expect_items, path

            return call

        def post():
            response = client.post(f"{v2}/requests.json", data={"api_key": key, **FILED})
            assert response.status_code == 201, response.get_data(as_text=True)

        calls = {
            CALLS[0]: get("services.json"),
            CALLS[1]: get(f"requests.json?{ALL_DATES}", min(size, 1000)),
            CALLS[2]: get(f"requests.xml?{ALL_DATES}", min(size, 1000)),
            CALLS[3]: get("requests.json"),
            CALLS[4]: get(f"requests/BPT-{size // 2:06d}.json", 1),
            CALLS[5]: post,
        }
        results = {name: timings(call, repeat) for name, call in calls.items()}
        with app.app_context():
            db.engine.dispose()
        return results


def main() -> None:
    compare_sizes(__doc__.splitlines()[0], CALLS, run, label="call")


if __name__ == "__main__":
    main()
