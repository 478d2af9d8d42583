"""staff: assignment, versions, response templates, saved filters

Revision ID: 63f3e2a8354e
Revises: d3a8708db5e7
Create Date: 2026-11-25 02:47:50.371955

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '63f3e2a8354e'
down_revision = 'd3a8708db5e7'
branch_labels = None
depends_on = None


# SQLite drops a table's triggers when batch mode rebuilds it: put the full-text
# index's back (repeated from 3ae383463ea8 on purpose: migrations never change).
SQLITE_FTS_TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS report_fts_insert AFTER INSERT ON report BEGIN "
    "INSERT INTO report_fts(rowid, description, address) "
    "VALUES (new.id, new.description, new.address); END",
    "CREATE TRIGGER IF NOT EXISTS report_fts_delete AFTER DELETE ON report BEGIN "
    "INSERT INTO report_fts(report_fts, rowid, description, address) "
    "VALUES ('delete', old.id, old.description, old.address); END",
    "CREATE TRIGGER IF NOT EXISTS report_fts_update AFTER UPDATE OF description, address "
    "ON report BEGIN "
    "INSERT INTO report_fts(report_fts, rowid, description, address) "
    "VALUES ('delete', old.id, old.description, old.address); "
    "INSERT INTO report_fts(rowid, description, address) "
    "VALUES (new.id, new.description, new.address); END",
]


def restore_search_triggers():
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS_TRIGGERS:
            op.execute(statement)


def upgrade():
    op.create_table('response_template',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_response_template_department_id_department'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_response_template'))
    )
    with op.batch_alter_table('response_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_response_template_department_id'), ['department_id'], unique=False)

    op.create_table('saved_filter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('query', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_saved_filter_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_filter'))
    )
    with op.batch_alter_table('saved_filter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saved_filter_user_id'), ['user_id'], unique=False)

    # SQLite rebuilds the table: keep AUTOINCREMENT so tracking numbers are never reused.
    with op.batch_alter_table('report', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('assignee_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.create_index(batch_op.f('ix_report_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_report_assignee_id_user_account'), 'user_account', ['assignee_id'], ['id'], ondelete='SET NULL')


    restore_search_triggers()


def downgrade():
    # SQLite rebuilds the table: keep AUTOINCREMENT so tracking numbers are never reused.
    with op.batch_alter_table('report', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_report_assignee_id_user_account'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_report_assignee_id'))
        batch_op.drop_column('version')
        batch_op.drop_column('assignee_id')

    with op.batch_alter_table('saved_filter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saved_filter_user_id'))

    op.drop_table('saved_filter')
    with op.batch_alter_table('response_template', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_response_template_department_id'))

    op.drop_table('response_template')
    restore_search_triggers()
