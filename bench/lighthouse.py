"""Lighthouse's accessibility and best-practices scores of the pages issue #22 names.

    npm install --prefix /tmp/lighthouse lighthouse      # once, outside the repository
    python bench/lighthouse.py [--lighthouse /tmp/lighthouse/node_modules/.bin/lighthouse]
                               [--port 5610] [--reports 200] [--performance]
                               [--also /map "/reports/here?lat=41.1792&lon=-73.1894"]

Serves the app on 127.0.0.1 (a fresh SQLite database with the city and demo reports, the
geocoder pointed at a closed port, plain grey map tiles served by the app), runs Lighthouse
with Debian's Chromium (CHROME_PATH, default /usr/bin/chromium; never a downloaded browser)
on /, /reports/new, /reports and a
report page, and prints each page's scores and every audit that kept it below 100.
Lighthouse's own defaults apply otherwise (a phone, throttled), so --performance figures
are comparable between runs on the same machine only.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Response  # noqa: E402
from PIL import Image  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from bench.common import database, seeded_app  # noqa: E402

PAGES = {"/": "/", "/reports/new": "/reports/new", "/reports": "/reports", "report page": None}
# The flags the browser tests launch Chromium with (tests/browser/conftest.py), headless.
CHROME_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DEFAULT_LIGHTHOUSE = "/tmp/lighthouse/node_modules/.bin/lighthouse"


def blank_tiles(app, port: int) -> None:
    """Map tiles from the app itself, plain grey: this machine may not reach the tile
    server, and a tile that fails to load is a console error Lighthouse would count."""
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (221, 221, 221)).save(buffer, "PNG")
    tile = buffer.getvalue()

    def grey_tile(z: int, x: int, y: int):
        return Response(tile, mimetype="image/png", headers={"Cache-Control": "max-age=3600"})

    app.add_url_rule("/bench-tiles/<int:z>/<int:x>/<int:y>.png", "bench_tile", grey_tile)
    app.config["MAP_TILE_URL"] = f"http://127.0.0.1:{port}/bench-tiles/{{z}}/{{x}}/{{y}}.png"


def serve(app, port: int):
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def a_report_path(app) -> str:
    from bpt311.extensions import db
    from bpt311.models import Report

    with app.app_context():
        middle = db.session.scalar(select(func.max(Report.id))) // 2 or 1
        report = db.session.get(Report, middle)
        return f"/reports/{report.tracking_number}"


def run_lighthouse(lighthouse: str, url: str, categories: list[str], tries: int = 3) -> dict:
    """One Lighthouse run's report; tried again when Lighthouse itself stumbles (it loses the
    trace of a load now and then on a busy machine: NO_NAVSTART, NO_FCP)."""
    env = dict(os.environ, CHROME_PATH=os.environ.get("CHROME_PATH", "/usr/bin/chromium"))
    for attempt in range(tries):
        done = _lighthouse_once(lighthouse, url, categories, env)
        if done.returncode == 0:
            return json.loads(done.stdout)
        print(f"  (lighthouse stumbled on {url}, try {attempt + 1})", file=sys.stderr)
    raise SystemExit(f"lighthouse failed on {url}:\n{done.stderr[-2000:]}")


def _lighthouse_once(lighthouse: str, url: str, categories: list[str], env: dict):
    return subprocess.run(
        [
            lighthouse,
            url,
            "--output=json",
            "--output-path=stdout",
            "--quiet",
            f"--only-categories={','.join(categories)}",
            f"--chrome-flags={' '.join(CHROME_FLAGS)}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def shortfalls(result: dict, category: str) -> list[str]:
    """The audits of a category that cost it points, as "id (score): title"."""
    found = []
    for ref in result["categories"][category]["auditRefs"]:
        audit = result["audits"][ref["id"]]
        if ref.get("weight", 0) and audit.get("score") is not None and audit["score"] < 1:
            items = (audit.get("details") or {}).get("items") or []
            where = [_item_words(item) for item in items[:3]]
            found.append(f"{audit['id']} ({audit['score']}): {audit['title']}")
            found += [f"      {w}" for w in where if w]
    return found


def _item_words(item: dict) -> str:
    """An audit's detail row in a line: the URL, console text or element it is about."""
    node = item.get("node") or {}
    words = item.get("description") or item.get("url") or item.get("source") or ""
    if isinstance(words, dict):
        words = words.get("url", "")
    return " ".join(str(w) for w in (words, node.get("snippet", "")) if w)[:200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lighthouse", default=os.environ.get("LIGHTHOUSE", DEFAULT_LIGHTHOUSE))
    parser.add_argument("--port", type=int, default=5610)
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--performance", action="store_true", help="score performance too")
    parser.add_argument("--also", nargs="*", default=[], help="more paths, e.g. /map")
    args = parser.parse_args()
    if not Path(args.lighthouse).exists():
        raise SystemExit(f"no Lighthouse at {args.lighthouse}: npm install it (see above)")
    categories = ["accessibility", "best-practices"] + (["performance"] * args.performance)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line a page, not a request

    with database("sqlite") as url:
        app, _seconds = seeded_app(url, args.reports)
        app.config["SITE_URL"] = f"http://127.0.0.1:{args.port}"
        blank_tiles(app, args.port)
        server = serve(app, args.port)
        try:
            pages = dict(PAGES, **{"report page": a_report_path(app)})
            pages.update((path, path) for path in args.also)
            width = max(16, *(len(name) + 2 for name in pages))
            print(f"{'page':{width}}" + "".join(f"{c:>16}" for c in categories))
            notes = []
            for name, path in pages.items():
                result = run_lighthouse(
                    args.lighthouse, f"http://127.0.0.1:{args.port}{path}", categories
                )
                scores = [round(result["categories"][c]["score"] * 100) for c in categories]
                print(f"{name:{width}}" + "".join(f"{s:>16}" for s in scores), flush=True)
                for category in categories:
                    notes += [f"  {name}, {category}: {s}" for s in shortfalls(result, category)]
            if notes:
                print("\nWhat cost points:")
                print("\n".join(notes))
        finally:
            server.shutdown()


if __name__ == "__main__":
    main()
