"""api keys and guest notification opt-out

Revision ID: d3a8708db5e7
Revises: 31324d1e4f01
Create Date: 2026-11-25 02:34:08.588973

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd3a8708db5e7'
down_revision = '31324d1e4f01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_api_key_created_by_id_user_account'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_key_key_hash'))
    )
    # A plain ADD COLUMN on SQLite too (no table rebuild), so the search triggers stay.
    with op.batch_alter_table('report', schema=None, recreate='never') as batch_op:
        batch_op.add_column(sa.Column('notify_contact', sa.Boolean(), server_default=sa.true(), nullable=False))



def downgrade():
    # A plain ADD COLUMN on SQLite too (no table rebuild), so the search triggers stay.
    with op.batch_alter_table('report', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('notify_contact')

    op.drop_table('api_key')
