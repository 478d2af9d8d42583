"""imported_photo: photo addresses of imported reports, fetched by the sweep

Revision ID: 5e1f0a9b2c22
Revises: 5e1f0a9b2c21
Create Date: 2026-12-06 04:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c22"
down_revision = "5e1f0a9b2c21"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "imported_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.Column("state", sa.String(length=10), server_default="waiting", nullable=False),
        sa.Column("error", sa.String(length=300), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_imported_photo_report_id", "imported_photo", ["report_id"])
    op.create_index("ix_imported_photo_state_retry", "imported_photo", ["state", "retry_at"])


def downgrade():
    op.drop_index("ix_imported_photo_state_retry", table_name="imported_photo")
    op.drop_index("ix_imported_photo_report_id", table_name="imported_photo")
    op.drop_table("imported_photo")
