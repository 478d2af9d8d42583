"""report map indexes: the map's counts and pins in a box read from covering indexes (#25)

Revision ID: 5e1f0a9b2c25
Revises: 5e1f0a9b2c23
Create Date: 2026-12-06 20:15:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c25"
down_revision = "5e1f0a9b2c23"
branch_labels = None
depends_on = None


# The map's fine-cell key on SQLite, exactly as bpt311/models/map_cells.py spells it
# (written out: a migration must not change when the model does).
SQLITE_CELL_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_report_map_cell ON report (("
    "CAST((latitude + 90.0) / 0.001875 AS INTEGER) * 1000000 + "
    "CAST((longitude + 180.0) / 0.0025 AS INTEGER)), "
    "latitude, longitude, hidden_at, status, category_id)"
)


def upgrade():
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_map",
            ["latitude", "longitude", "hidden_at", "status", "category_id", "created_at", "id"],
            unique=False,
        )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_CELL_INDEX)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX IF EXISTS ix_report_map_cell")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index("ix_report_map")
