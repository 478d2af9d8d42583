"""The whole schema without migrations (tests, benchmarks): the models' tables plus what
they cannot describe, the full-text index (search.py) and the map's fine-cell index
(map_cells.py), made the way the migrations make them.

An explicit step rather than DDL events on the report table, so ``create_all`` alone
does only what it says and a reader sees every statement a fresh database gets here.
"""

from __future__ import annotations

from contextlib import nullcontext

from sqlalchemy import Engine, text

from bpt311.models.base import Base
from bpt311.models.map_cells import POSTGRESQL_INDEX_DDL, SQLITE_INDEX_DDL
from bpt311.models.search import POSTGRES_DDL, SQLITE_DDL

# Per dialect, run after the tables exist; every statement is IF NOT EXISTS.
EXTRA_DDL = {
    "sqlite": [*SQLITE_DDL, SQLITE_INDEX_DDL],
    "postgresql": [*POSTGRES_DDL, POSTGRESQL_INDEX_DDL],
}


def create_schema(bind) -> None:
    """Every table and index the migrations would make, on an engine or a connection.
    Running it again on a database that has them changes nothing."""
    Base.metadata.create_all(bind)
    with _begin(bind) as connection:
        for statement in EXTRA_DDL.get(connection.dialect.name, []):
            connection.execute(text(statement))


def drop_schema(bind) -> None:
    """Every table ``create_schema`` makes, the full-text one first (SQLite's FTS5 table is
    no model's; PostgreSQL's indexes go with their table)."""
    with _begin(bind) as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TABLE IF EXISTS report_fts"))
    Base.metadata.drop_all(bind)


def _begin(bind):
    """A transaction on an engine; on a connection, the caller's own (SQLAlchemy 2 begins
    one on first use and the caller commits it)."""
    return bind.begin() if isinstance(bind, Engine) else nullcontext(bind)
