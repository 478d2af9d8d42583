"""videos sent before they were cleaned wait for their clean copy

Revision ID: 5e1f0a9b2c14
Revises: 5e1f0a9b2c18
Create Date: 2026-12-06 03:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c14"
down_revision = "5e1f0a9b2c18"
branch_labels = None
depends_on = None


def upgrade():
    # A video stored as sent (no poster yet) still holds its phone's place and camera:
    # it is no longer served, and the sweep gives it the job that makes its clean copy.
    media = sa.table(
        "media",
        sa.column("kind", sa.String),
        sa.column("thumb_name", sa.String),
        sa.column("processing_state", sa.String),
    )
    op.execute(
        media.update()
        .where(media.c.kind == "video", media.c.thumb_name == "")
        .values(processing_state="processing")
    )


def downgrade():
    pass  # the clean copies made meanwhile are as good as the files they replaced
