"""user session version

Revision ID: 5e1f0a9b2c13
Revises: 5e1f0a9b2c16
Create Date: 2026-12-06 03:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c13"
down_revision = "5e1f0a9b2c16"
branch_labels = None
depends_on = None


def upgrade():
    # Raised on sign-out, "sign out everywhere", password change and reset: older cookies end.
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("session_version")
