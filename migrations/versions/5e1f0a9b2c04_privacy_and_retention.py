"""privacy and retention

Revision ID: 5e1f0a9b2c04
Revises: 5e1f0a9b2c03
Create Date: 2026-11-25 05:00:00

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c04"
down_revision = "5e1f0a9b2c03"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN on both engines: the report table is never rebuilt.
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_erased_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("contact_erased_at")
