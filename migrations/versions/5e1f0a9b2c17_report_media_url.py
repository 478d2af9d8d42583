"""report media_url: a photo another app linked (Open311 media_url)

Revision ID: 5e1f0a9b2c17
Revises: 5e1f0a9b2c09
Create Date: 2026-12-06 03:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c17"
down_revision = "5e1f0a9b2c09"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "report",
        sa.Column("media_url", sa.String(length=500), nullable=False, server_default=""),
    )


def downgrade():
    with op.batch_alter_table("report") as batch:
        batch.drop_column("media_url")
