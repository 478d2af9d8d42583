"""report submission key and geocode cache

Revision ID: 2268e5c4a2d9
Revises: 2ea68b52ff19
Create Date: 2026-11-25 01:53:10.333556

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2268e5c4a2d9'
down_revision = '2ea68b52ff19'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('geocode_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('query', sa.String(length=300), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_geocode_cache')),
    sa.UniqueConstraint('kind', 'query', name=op.f('uq_geocode_cache_kind'))
    )
    # SQLite rebuilds the table: keep AUTOINCREMENT so tracking numbers are never reused.
    with op.batch_alter_table('report', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('submission_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_report_submission_key'), ['submission_key'])


def downgrade():
    # SQLite rebuilds the table: keep AUTOINCREMENT so tracking numbers are never reused.
    with op.batch_alter_table('report', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_report_submission_key'), type_='unique')
        batch_op.drop_column('submission_key')

    op.drop_table('geocode_cache')
