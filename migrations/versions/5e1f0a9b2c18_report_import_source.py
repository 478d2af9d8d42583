"""report import source and id: reports brought over from an earlier system

Revision ID: 5e1f0a9b2c18
Revises: 5e1f0a9b2c17
Create Date: 2026-12-06 03:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c18"
down_revision = "5e1f0a9b2c17"
branch_labels = None
depends_on = None


def upgrade():
    # Columns and indexes only: no table rebuild on SQLite (which would drop its FTS triggers).
    op.add_column("report", sa.Column("import_source", sa.String(length=40), nullable=True))
    op.add_column("report", sa.Column("import_id", sa.String(length=100), nullable=True))
    op.create_index("ix_report_import_id", "report", ["import_id"])
    op.create_index("uq_report_import", "report", ["import_source", "import_id"], unique=True)


def downgrade():
    op.drop_index("uq_report_import", table_name="report")
    op.drop_index("ix_report_import_id", table_name="report")
    with op.batch_alter_table("report") as batch:
        batch.drop_column("import_id")
        batch.drop_column("import_source")
