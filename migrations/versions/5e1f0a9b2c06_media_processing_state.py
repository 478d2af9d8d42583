"""media processing state

Revision ID: 5e1f0a9b2c06
Revises: 5e1f0a9b2c05
Create Date: 2026-11-25 08:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c06"
down_revision = "5e1f0a9b2c05"
branch_labels = None
depends_on = None


def upgrade():
    # Existing photos already have their copies (or never will): "ready".
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "processing_state", sa.String(length=12), server_default="ready", nullable=False
            )
        )
        batch_op.create_index(
            batch_op.f("ix_media_processing_state"), ["processing_state"], unique=False
        )


def downgrade():
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_processing_state"))
        batch_op.drop_column("processing_state")
