"""The map's summary (``map_cell``, models/map_cells.py): counted from ``report`` per fine
cell, kept exact in the same transaction as every change, read by the map (clusters.py).

How it stays true: the services that change what a report counts as already call
reports/daily.py's ``touch(report)`` (or ``touch_where``) for the daily figures; that call
also remembers the report's fine cell, before and after a change that moves it (a staff
correction of its location touches it on both sides). daily.py's one before-commit step
then counts the touched cells again with :func:`count_cells`: their rows are deleted and
inserted anew by the same INSERT … SELECT as :func:`rebuild`, so a rebuild changes nothing.
On PostgreSQL each cell is first taken under a transaction-scoped advisory lock, in order:
two transactions touching the same cell count it one after the other (the second one's
statements see the first one's committed report), so neither loses the other's report.
SQLite has one writer at a time anyway.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
)

from bpt311.models import Report, map_cell, map_cells
from bpt311.models.map_cells import micro
from bpt311.paging import batched

LOCK_CLASS = 312 << 40  # pg_advisory_xact_lock(LOCK_CLASS + cell): apart from other locks
CHUNK = 500  # cells counted per statement


def key_of(dialect: str):
    """The fine cell's key of a report row, in SQL, spelled exactly as its index is
    (models/map_cells.py) so that a few cells' reports are found through it."""
    return literal_column(map_cells.key_sql(dialect))


def in_cells(dialect: str, cells: list[int]):
    """The condition that a report lies in one of these fine cells (the key's index). The
    keys are written into the statement: as parameters, PostgreSQL's plan for a statement
    psycopg has prepared (from its fifth run) guesses at them and scans the whole table."""
    keys = bindparam("cells", list(cells), expanding=True, literal_execute=True)
    return key_of(dialect).in_(keys)


def _counted(dialect: str, *conditions):
    """INSERT INTO map_cell the reports with a point counted per cell, status and hidden."""
    key = key_of(dialect)
    hidden = ~Report.publicly_visible
    return insert(map_cell).from_select(
        ["cell", "status", "hidden", "reports", "latitude_sum", "longitude_sum"],
        select(
            key,
            Report.status,
            hidden,
            func.count(),
            func.sum(micro(Report.latitude)),
            func.sum(micro(Report.longitude)),
        )
        .where(Report.latitude.is_not(None), Report.longitude.is_not(None), *conditions)
        .group_by(key, Report.status, hidden),
    )


def count_cells(connection: Connection, cells: Iterable[int]) -> None:
    """Count these fine cells again from ``report``: delete their rows and insert anew."""
    cells = sorted(set(cells))
    dialect = connection.dialect.name
    if not cells:
        return
    if dialect == "postgresql":
        # In the cells' order, so two transactions never wait on each other in a ring.
        connection.execute(
            text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
            {"keys": [LOCK_CLASS + cell for cell in cells]},
        )
    for chunk in batched(cells, CHUNK):
        connection.execute(delete(map_cell).where(map_cell.c.cell.in_(chunk)))
        connection.execute(_counted(dialect, in_cells(dialect, chunk)))


def rebuild(connection: Connection) -> int:
    """Make the whole summary again from ``report`` (idempotent). Returns the rows made."""
    if connection.dialect.name == "postgresql":  # no cell is written meanwhile
        connection.execute(text("LOCK TABLE map_cell IN SHARE ROW EXCLUSIVE MODE"))
    connection.execute(delete(map_cell))
    connection.execute(_counted(connection.dialect.name))
    return connection.scalar(select(func.count()).select_from(map_cell))
