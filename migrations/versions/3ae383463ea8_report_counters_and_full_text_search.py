"""report counters and full-text search

Revision ID: 3ae383463ea8
Revises: 2268e5c4a2d9
Create Date: 2026-11-25 02:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '3ae383463ea8'
down_revision = '2268e5c4a2d9'
branch_labels = None
depends_on = None

# Repeated from bpt311/models/search.py on purpose: a migration must not change
# when the application code does later.
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS report_fts USING fts5("
    "description, address, content='report', content_rowid='id', "
    "tokenize='porter unicode61')",
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
    "INSERT INTO report_fts(report_fts) VALUES ('rebuild')",
]
POSTGRES_SEARCH_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_report_search ON report USING gin ("
    "to_tsvector('english'::regconfig, "
    "coalesce(description, '') || ' ' || coalesce(address, '')))"
)


def upgrade():
    # SQLite rebuilds the table: keep AUTOINCREMENT so tracking numbers are never reused.
    with op.batch_alter_table('report', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('vote_count', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('comment_count', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.create_index('ix_report_votes', ['vote_count', 'id'], unique=False)
    # After the rebuild: triggers on a rebuilt SQLite table would be lost.
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_SEARCH_INDEX)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS report_fts")
    elif op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_report_search")
    with op.batch_alter_table('report', schema=None,
                              table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_index('ix_report_votes')
        batch_op.drop_column('comment_count')
        batch_op.drop_column('vote_count')
