"""translations

Revision ID: 5e1f0a9b2c07
Revises: 5e1f0a9b2c06
Create Date: 2026-11-25 08:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c07"
down_revision = "5e1f0a9b2c06"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch): the report table is never rebuilt.
    op.add_column(
        "user_account", sa.Column("locale", sa.String(8), nullable=False, server_default="")
    )
    op.add_column("report", sa.Column("locale", sa.String(8), nullable=False, server_default=""))
    op.add_column(
        "category", sa.Column("translations", sa.JSON(), nullable=False, server_default="{}")
    )
    op.add_column(
        "category_question",
        sa.Column("translations", sa.JSON(), nullable=False, server_default="{}"),
    )


def downgrade():
    with op.batch_alter_table("category_question") as batch:
        batch.drop_column("translations")
    with op.batch_alter_table("category") as batch:
        batch.drop_column("translations")
    with op.batch_alter_table("report", schema=None) as batch:
        batch.drop_column("locale")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("locale")
