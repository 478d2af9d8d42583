"""The map's fine grid: every report's cell (indexed on SQLite), and the summary of them.

``/reports.geojson?bbox=…&zoom=…`` counts reports per grid cell (reports/clusters.py). It
counts them per *fine* cell in SQL and adds neighbouring fine cells up into the cells the
zoom asks for, which are always 2, 4, 8… fine cells wide, so both engines give the same
answer. SQLite has no hash aggregation: a GROUP BY sorts every row first (60 ms of CPU for
100,000 reports). Grouping by an expression that an index holds needs no sort, so on SQLite
the fine cell's key is an expression index, kept here (``SQLITE_INDEX_DDL``, run by
``schema.create_schema``) and made by migration 5e1f0a9b2c25; Alembic is told to ignore it
(``search.include_object``). PostgreSQL aggregates by hashing; it indexes the key too
(migration 5e1f0a9b2c27, with the columns the map filters by), so the cells the map's
summary cannot answer alone are counted from the index.

``map_cell`` is the summary the map reads when it asks for nothing but a box (and perhaps
statuses): per fine cell, status and hidden or not, how many reports have a point there
and the sums of their latitudes and longitudes in millionths of a degree (reports are
placed to the millionth, so the sums are exact whatever their order, and the mean is
rounded the same way whichever path counted it). It is kept exact in the same transaction
as every change to a report by bpt311/reports/map_summary.py (through reports/daily.py's
``touch``), and made again by ``flask stats rebuild``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Integer,
    String,
    Table,
    cast,
    func,
)

from bpt311.models.base import Base

FINE_LON = 0.0025  # degrees: about 210 m at Bridgeport, 64 px at zoom 15
FINE_LAT = 0.001875  # three quarters of that: cells about square at 41° N
KEY_BASE = 1_000_000  # key = row * KEY_BASE + column (columns < 144,000)
INDEX_NAME = "ix_report_map_cell"


MICRO = 1_000_000  # the summary's sums are in millionths of a degree


def sqlite_key(table: str = "") -> str:
    """The fine cell's key as SQLite computes it (CAST truncates; the operands are never
    negative). Queries must spell it exactly like the index to use it."""
    prefix = f"{table}." if table else ""
    return (
        f"CAST(({prefix}latitude + 90.0) / {FINE_LAT!r} AS INTEGER) * {KEY_BASE} + "
        f"CAST(({prefix}longitude + 180.0) / {FINE_LON!r} AS INTEGER)"
    )


def postgresql_key(table: str = "") -> str:
    """The same key as PostgreSQL computes it (the literals are taken as double precision,
    as clusters.py's bound floats are), spelled exactly like its index."""
    prefix = f"{table}." if table else ""
    return (
        f"CAST(floor(({prefix}latitude + 90.0) / {FINE_LAT!r}) AS BIGINT) * {KEY_BASE} + "
        f"CAST(floor(({prefix}longitude + 180.0) / {FINE_LON!r}) AS BIGINT)"
    )


def key_sql(dialect: str, table: str = "report") -> str:
    return sqlite_key(table) if dialect == "sqlite" else postgresql_key(table)


def micro(column):
    """A coordinate in whole millionths of a degree, in SQL (exact to sum)."""
    return cast(func.round(column * MICRO), BigInteger)


def cell_of(latitude: float | None, longitude: float | None) -> int | None:
    """The fine cell's key of a point, as both engines compute it in SQL (the same IEEE
    division, rounded down; the operands are never negative), or None without a point."""
    if latitude is None or longitude is None:
        return None
    return int((latitude + 90.0) / FINE_LAT) * KEY_BASE + int((longitude + 180.0) / FINE_LON)


SQLITE_INDEX_DDL = (
    f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON report (({sqlite_key()}), "
    "latitude, longitude, hidden_at, status, category_id)"
)
# With what the map's edge cells are filtered by, so they are read from the index alone.
POSTGRESQL_INDEX_DDL = (
    f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON report (({postgresql_key()})) "
    "INCLUDE (latitude, longitude, hidden_at, status)"
)

# The map's summary (bpt311/reports/map_summary.py): per fine cell (its key), status and
# hidden by moderators or not, the reports with a point there and the sums of their
# coordinates (in millionths of a degree: ``micro``). Derived from ``report`` alone:
# ``flask stats rebuild`` makes it again. On SQLite the rows live in the primary key's
# order (WITHOUT ROWID): a box's cells are one range of it, read without a sort.
map_cell = Table(
    "map_cell",
    Base.metadata,
    Column("cell", BigInteger, primary_key=True, autoincrement=False),
    Column("status", String(20), primary_key=True),
    Column("hidden", Boolean, primary_key=True),
    Column("reports", Integer, nullable=False),
    Column("latitude_sum", BigInteger, nullable=False),  # millionths of a degree
    Column("longitude_sum", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
