"""Full-text search over reports: FTS5 on SQLite, a GIN expression index on PostgreSQL.

Neither fits SQLAlchemy's portable model, so the DDL is kept here, run by
``schema.create_schema`` after the tables (tests, benchmarks) and repeated in the migration
that introduced it. Alembic is told to ignore the FTS tables (``include_object``).
"""

from __future__ import annotations

# The expression PostgreSQL indexes; queries must use exactly this to hit the index.
PG_VECTOR = (
    "to_tsvector('english'::regconfig, "
    "coalesce(report.description, '') || ' ' || coalesce(report.address, ''))"
)

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS report_fts USING fts5("
    "description, address, content='report', content_rowid='id', "
    "tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS report_fts_insert AFTER INSERT ON report BEGIN "
    "INSERT INTO report_fts(rowid, description, address) "
    "VALUES (new.id, new.description, new.address); END",
    "CREATE TRIGGER IF NOT EXISTS report_fts_delete AFTER DELETE ON report BEGIN "
    "INSERT INTO report_fts(report_fts, rowid, description, address) "
    "VALUES ('delete', old.id, old.description, old.address); END",
    "CREATE TRIGGER IF NOT EXISTS report_fts_update AFTER UPDATE OF description, address "
    "ON report BEGIN "
    "INSERT INTO report_fts(report_fts, rowid, description, address) "
    "VALUES ('delete', old.id, old.description, old.address); "
    "INSERT INTO report_fts(rowid, description, address) "
    "VALUES (new.id, new.description, new.address); END",
]
POSTGRES_DDL = [
    "CREATE INDEX IF NOT EXISTS ix_report_search ON report USING gin ("
    "to_tsvector('english'::regconfig, "
    "coalesce(description, '') || ' ' || coalesce(address, '')))",
]


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """For Alembic: the FTS5 tables and the expression indexes (this one and the map's
    fine-cell index, map_cells.py) are managed by hand."""
    if type_ == "table" and name and name.startswith("report_fts"):
        return False
    return not (type_ == "index" and name in ("ix_report_search", "ix_report_map_cell"))
