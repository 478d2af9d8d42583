"""media variants

Revision ID: 5e1f0a9b2c02
Revises: 5e1f0a9b2c01
Create Date: 2026-11-25 05:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e1f0a9b2c02'
down_revision = '5e1f0a9b2c01'
branch_labels = None
depends_on = None


def upgrade():
    # Added columns only: SQLite adds them in place, without rebuilding the table.
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.add_column(sa.Column('variant_key', sa.String(length=32), server_default='', nullable=False))
        batch_op.add_column(sa.Column('variants', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_media_variant_key'), ['variant_key'], unique=False)


def downgrade():
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_variant_key'))
        batch_op.drop_column('variants')
        batch_op.drop_column('variant_key')
