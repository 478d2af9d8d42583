"""ix_report_figures: the columns the figures of one department, kind or neighbourhood read

Revision ID: 5e1f0a9b2c28
Revises: 5e1f0a9b2c27
Create Date: 2026-12-07 02:30:00

A page of /stats about one department, kind or neighbourhood counts its breakdowns from
``report`` (bpt311/stats/exact.py); with every column it reads in one index led by the
filter's own columns, a year of one department is read from the index alone.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c28"
down_revision = "5e1f0a9b2c27"
branch_labels = None
depends_on = None

COLUMNS = [
    "department_id",
    "category_id",
    "neighbourhood_id",
    "hidden_at",
    "created_at",
    "acknowledged_at",
    "closed_at",
    "due_at",
]


def upgrade():
    op.create_index("ix_report_figures", "report", COLUMNS)


def downgrade():
    op.drop_index("ix_report_figures", table_name="report")
