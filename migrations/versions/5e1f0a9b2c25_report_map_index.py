"""report map index: the map's counts and pins in a box read from one covering index (#25)

Revision ID: 5e1f0a9b2c25
Revises: 5e1f0a9b2c22
Create Date: 2026-12-06 20:15:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c25"
down_revision = "5e1f0a9b2c22"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.create_index(
            "ix_report_map",
            ["latitude", "longitude", "hidden_at", "status", "category_id", "created_at", "id"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index("ix_report_map")
