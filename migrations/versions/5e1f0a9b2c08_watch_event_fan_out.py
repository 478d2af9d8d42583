"""watch event fan-out

Revision ID: 5e1f0a9b2c08
Revises: 5e1f0a9b2c07
Create Date: 2026-11-25 08:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c08"
down_revision = "5e1f0a9b2c07"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch): rebuilding watch_event on SQLite would drop its
    # notices with it (and so actor_id has no foreign key).
    op.add_column("watch_event", sa.Column("fanned_out_at", sa.DateTime(), nullable=True))
    op.add_column("watch_event", sa.Column("actor_id", sa.Integer(), nullable=True))
    op.add_column("watch_event", sa.Column("already_told", sa.JSON(), nullable=True))
    # Every event so far was fanned out in the request that made it.
    op.execute("UPDATE watch_event SET fanned_out_at = created_at")
    op.create_index(
        op.f("ix_watch_event_fanned_out_at"), "watch_event", ["fanned_out_at"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_watch_event_fanned_out_at"), table_name="watch_event")
    op.drop_column("watch_event", "already_told")
    op.drop_column("watch_event", "actor_id")
    op.drop_column("watch_event", "fanned_out_at")
