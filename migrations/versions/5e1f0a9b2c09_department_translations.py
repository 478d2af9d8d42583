"""department translations

Revision ID: 5e1f0a9b2c09
Revises: 5e1f0a9b2c08
Create Date: 2026-11-25 09:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c09"
down_revision = "5e1f0a9b2c08"
branch_labels = None
depends_on = None


def upgrade():
    # Admins' Spanish and Portuguese names for departments (residents read them).
    op.add_column(
        "department", sa.Column("translations", sa.JSON(), nullable=False, server_default="{}")
    )


def downgrade():
    with op.batch_alter_table("department") as batch:
        batch.drop_column("translations")
