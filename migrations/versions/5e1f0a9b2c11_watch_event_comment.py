"""watch event comment

Revision ID: 5e1f0a9b2c11
Revises: 5e1f0a9b2c14
Create Date: 2026-12-06 03:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c11"
down_revision = "5e1f0a9b2c14"
branch_labels = None
depends_on = None


def upgrade():
    # The comment a "comment" event told watchers of, so its notice goes when moderators
    # hide the comment or its writer deletes it. Plain ADD COLUMN and no foreign key, as
    # for actor_id: rebuilding watch_event on SQLite would drop its notices with it.
    op.add_column("watch_event", sa.Column("comment_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_watch_event_comment_id"), "watch_event", ["comment_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_watch_event_comment_id"), table_name="watch_event")
    op.drop_column("watch_event", "comment_id")
