"""map_cell: the map's summary of its fine cells, read by /reports.geojson below street
level; on PostgreSQL an index on the fine cell's key (SQLite has had one since 5e1f0a9b2c25)

Revision ID: 5e1f0a9b2c27
Revises: 5e1f0a9b2c26
Create Date: 2026-12-06 23:50:00

Filled from the reports already there, with the grid of bpt311/models/map_cells.py
repeated here on purpose (a migration must not change when the app does);
``flask stats rebuild`` makes the same rows.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c27"
down_revision = "5e1f0a9b2c26"
branch_labels = None
depends_on = None

FINE_LON, FINE_LAT, KEY_BASE = 0.0025, 0.001875, 1_000_000


def upgrade():
    op.create_table(
        "map_cell",
        sa.Column("cell", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("latitude_sum", sa.BigInteger(), nullable=False),
        sa.Column("longitude_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("cell", "status", "hidden", name=op.f("pk_map_cell")),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_report_map_cell ON report (({_key()})) "
            "INCLUDE (latitude, longitude, hidden_at, status)"
        )
    op.execute(
        "INSERT INTO map_cell (cell, status, hidden, reports, latitude_sum, longitude_sum) "
        f"SELECT {_key()}, status, hidden_at IS NOT NULL, count(*), "
        "sum(CAST(round(latitude * 1000000) AS BIGINT)), "
        "sum(CAST(round(longitude * 1000000) AS BIGINT)) FROM report "
        "WHERE latitude IS NOT NULL AND longitude IS NOT NULL "
        f"GROUP BY {_key()}, status, hidden_at IS NOT NULL"
    )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_report_map_cell")
    op.drop_table("map_cell")


def _key() -> str:
    """The fine cell's key, spelled exactly as the expression index is."""
    if op.get_bind().dialect.name == "sqlite":
        return (
            f"CAST((latitude + 90.0) / {FINE_LAT!r} AS INTEGER) * {KEY_BASE} + "
            f"CAST((longitude + 180.0) / {FINE_LON!r} AS INTEGER)"
        )
    return (
        f"CAST(floor((latitude + 90.0) / {FINE_LAT!r}) AS BIGINT) * {KEY_BASE} + "
        f"CAST(floor((longitude + 180.0) / {FINE_LON!r}) AS BIGINT)"
    )
