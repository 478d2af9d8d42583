"""The map's fine grid: every report's cell, indexed on SQLite so the map's counts stream.

``/reports.geojson?bbox=…&zoom=…`` counts reports per grid cell (reports/clusters.py). It
counts them per *fine* cell in SQL and adds neighbouring fine cells up into the cells the
zoom asks for, which are always 2, 4, 8… fine cells wide, so both engines give the same
answer. SQLite has no hash aggregation: a GROUP BY sorts every row first (60 ms of CPU for
100,000 reports). Grouping by an expression that an index holds needs no sort, so on SQLite
the fine cell's key is an expression index, attached to the report table's creation here
(for ``create_all``) and made by migration 5e1f0a9b2c25; Alembic is told to ignore it
(``search.include_object``). PostgreSQL aggregates by hashing and needs no such index.
"""

from __future__ import annotations

from sqlalchemy import DDL, event

from bpt311.models.reports import Report

FINE_LON = 0.0025  # degrees: about 210 m at Bridgeport, 64 px at zoom 15
FINE_LAT = 0.001875  # three quarters of that: cells about square at 41° N
KEY_BASE = 1_000_000  # key = row * KEY_BASE + column (columns < 144,000)
INDEX_NAME = "ix_report_map_cell"


def sqlite_key(table: str = "") -> str:
    """The fine cell's key as SQLite computes it (CAST truncates; the operands are never
    negative). Queries must spell it exactly like the index to use it."""
    prefix = f"{table}." if table else ""
    return (
        f"CAST(({prefix}latitude + 90.0) / {FINE_LAT!r} AS INTEGER) * {KEY_BASE} + "
        f"CAST(({prefix}longitude + 180.0) / {FINE_LON!r} AS INTEGER)"
    )


SQLITE_INDEX_DDL = (
    f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON report (({sqlite_key()}), "
    "latitude, longitude, hidden_at, status, category_id)"
)

event.listen(Report.__table__, "after_create", DDL(SQLITE_INDEX_DDL).execute_if(dialect="sqlite"))
