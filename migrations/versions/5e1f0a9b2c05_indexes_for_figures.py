"""indexes for figures

Revision ID: 5e1f0a9b2c05
Revises: 5e1f0a9b2c04
Create Date: 2026-11-25 05:00:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c05"
down_revision = "5e1f0a9b2c04"
branch_labels = None
depends_on = None


def upgrade():
    # The dashboard counts and ranks reports by when they were acknowledged and closed.
    # Plain CREATE INDEX (no batch): the report table is never rebuilt.
    op.create_index("ix_report_acknowledged_at", "report", ["acknowledged_at"], unique=False)
    op.create_index("ix_report_closed_at", "report", ["closed_at"], unique=False)


def downgrade():
    op.drop_index("ix_report_closed_at", table_name="report")
    op.drop_index("ix_report_acknowledged_at", table_name="report")
