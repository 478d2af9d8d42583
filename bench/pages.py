"""Page weight of the primary pages: what a phone downloads, and what the server runs.

    python bench/pages.py [--reports 1000] [--engine sqlite|postgresql] [--quick]

For each page: the HTML raw and compressed (gzip and brotli, as the app sends them), the
first flight (response headers + compressed HTML + the stylesheets in <head>, which must
fit the 14 KB a first round trip carries), the total transfer with every stylesheet,
script and static image the page references, the number of requests that takes, what a
map loads later when it comes into view (Leaflet), and the SQL queries the page ran.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from bench.common import database, seeded_app  # noqa: E402

PAGES = {
    "/": "/",
    "/reports/new": "/reports/new",
    "/reports/new?category=pothole": "/reports/new?category=pothole",
    "/reports": "/reports",
    "report page": "/reports/MIDDLE",
    "/map": "/map",
    "/neighbourhoods": "/neighbourhoods",
}
FIRST_FLIGHT_BUDGET = 14 * 1024
PAGE_BUDGET = 60 * 1024
STYLESHEET_RE = re.compile(r'<link rel="stylesheet" href="([^"]+)"')
SCRIPT_RE = re.compile(r'<script src="([^"]+)"')
STATIC_IMG_RE = re.compile(r'<img[^>]+src="(/static/[^"]+)"')
DEFERRED_RE = re.compile(r'data-(?:leaflet|leaflet-css|cluster|cluster-css)="([^"]+)"')


def header_bytes(response) -> int:
    lines = [f"HTTP/1.1 {response.status}"] + [f"{k}: {v}" for k, v in response.headers.items()]
    return len("\r\n".join(lines).encode()) + 4


def measure(client, engine, path: str, coding: str) -> dict:
    accept = {"Accept-Encoding": coding}
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path, headers=accept)
        response.get_data()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, (path, response.status_code)
    page = client.get(path).get_data(as_text=True)
    head = page.split("</head>", 1)[0]

    def size(url: str) -> int:
        return len(client.get(url, headers=accept).data)

    css_first = sum(size(url) for url in STYLESHEET_RE.findall(head))
    files = set(STYLESHEET_RE.findall(page) + SCRIPT_RE.findall(page))
    files |= set(STATIC_IMG_RE.findall(page))
    deferred = set(DEFERRED_RE.findall(page)) - files
    return {
        "raw": len(page.encode()),
        "html": len(response.data),
        "first": header_bytes(response) + len(response.data) + css_first,
        "total": len(response.data) + sum(size(url) for url in files),
        "requests": 1 + len(files),
        "deferred": sum(size(url) for url in deferred),
        "queries": len(statements),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--quick", action="store_true", help="100 reports")
    args = parser.parse_args()
    size = 100 if args.quick else args.reports
    with database(args.engine) as url:
        app, seeded = seeded_app(url, size)
        print(f"{args.engine}, {size:,} reports (seeded in {seeded:.1f} s); sizes in bytes")
        from bpt311.extensions import db

        client = app.test_client()
        with app.app_context():
            engine = db.engine
        for coding in ("gzip", "br"):
            print(f"\nAccept-Encoding: {coding}")
            print(
                f"{'page':32}{'raw':>8}{'HTML':>8}{'first flight':>14}{'total':>8}"
                f"{'requests':>10}{'map later':>11}{'SQL':>6}"
            )
            for name, path in PAGES.items():
                path = path.replace("MIDDLE", f"BPT-{max(size // 2, 1):06d}")
                m = measure(client, engine, path, coding)
                flags = ""
                if m["first"] > FIRST_FLIGHT_BUDGET:
                    flags += "  first flight over 14 KB"
                if m["total"] > PAGE_BUDGET:
                    flags += "  over 60 KB"
                print(
                    f"{name:32}{m['raw']:>8,}{m['html']:>8,}{m['first']:>14,}{m['total']:>8,}"
                    f"{m['requests']:>10}{m['deferred']:>11,}{m['queries']:>6}{flags}"
                )
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
