"""category form title: the report form's heading as a whole phrase ("Report rodents")

Revision ID: 5e1f0a9b2c19
Revises: 5e1f0a9b2c13
Create Date: 2026-12-06 03:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c19"
down_revision = "5e1f0a9b2c13"
branch_labels = None
depends_on = None


def upgrade():
    # A plain added column: no table rebuild on SQLite. Existing categories get "" and the
    # form falls back to "Report a problem: <name>" until an admin (or load_city) fills it.
    op.add_column(
        "category",
        sa.Column("form_title", sa.String(length=200), nullable=False, server_default=""),
    )


def downgrade():
    with op.batch_alter_table("category") as batch:
        batch.drop_column("form_title")
