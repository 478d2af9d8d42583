"""reports whose location is still to be confirmed

Revision ID: 5e1f0a9b2c15
Revises: 5e1f0a9b2c11
Create Date: 2026-12-06 03:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c15"
down_revision = "5e1f0a9b2c11"
branch_labels = None
depends_on = None

# What the photo offer used to put in the address (English, Spanish, Portuguese): a file
# name, never an address. Such rows lose it and wait for the reverse geocoder instead.
PHOTO_TEXTS = ("Where your photo %", "Donde se tomó su foto %", "Onde sua foto %")

# SQLite drops a table's triggers when batch mode rebuilds it: put the full-text
# index's back (repeated from 63f3e2a8354e on purpose: migrations never change).
SQLITE_FTS_TRIGGERS = [
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
# Tracking numbers are never reused: the rebuilt SQLite table keeps AUTOINCREMENT.
REPORT_TABLE = {"sqlite_autoincrement": True}


def restore_search_triggers():
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS_TRIGGERS:
            op.execute(statement)


def upgrade():
    with op.batch_alter_table("report", table_kwargs=REPORT_TABLE) as batch:
        batch.alter_column("latitude", existing_type=sa.Float(), nullable=True)
        batch.alter_column("longitude", existing_type=sa.Float(), nullable=True)
        batch.add_column(
            sa.Column("location_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("location_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("location_retry_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_report_location_pending", ["location_pending"], unique=False)
    restore_search_triggers()
    report = sa.table(
        "report",
        sa.column("address", sa.String),
        sa.column("location_pending", sa.Boolean),
    )
    op.execute(
        report.update()
        .where(sa.or_(*(report.c.address.like(text) for text in PHOTO_TEXTS)))
        .values(address="", location_pending=True)
    )


def downgrade():
    with op.batch_alter_table("report", table_kwargs=REPORT_TABLE) as batch:
        batch.drop_index("ix_report_location_pending")
        batch.drop_column("location_retry_at")
        batch.drop_column("location_attempts")
        batch.drop_column("location_pending")
    restore_search_triggers()
    # Reports still waiting for a point are never deleted: the columns then stay nullable.
    unplaced = op.get_bind().scalar(
        sa.text("SELECT COUNT(*) FROM report WHERE latitude IS NULL OR longitude IS NULL")
    )
    if unplaced:
        return
    with op.batch_alter_table("report", table_kwargs=REPORT_TABLE) as batch:
        batch.alter_column("latitude", existing_type=sa.Float(), nullable=False)
        batch.alter_column("longitude", existing_type=sa.Float(), nullable=False)
    restore_search_triggers()
