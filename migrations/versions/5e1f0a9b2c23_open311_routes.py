"""open311 routes: a send method per department (a default) and per category, and how a
category's questions are named at the city system

Revision ID: 5e1f0a9b2c23
Revises: 5e1f0a9b2c22
Create Date: 2026-12-06 20:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c23"
down_revision = "5e1f0a9b2c22"
branch_labels = None
depends_on = None


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # The batch copies drop tables every report points at: foreign keys are off while
        # they are rebuilt (SQLite runs this DDL outside a transaction).
        op.execute("PRAGMA foreign_keys = OFF")
    with op.batch_alter_table("category") as batch:
        batch.add_column(
            sa.Column("send_method", sa.String(length=10), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column("remote_attributes", sa.JSON(), server_default="{}", nullable=False)
        )
    with op.batch_alter_table("department") as batch:
        batch.add_column(
            sa.Column("send_method", sa.String(length=10), server_default="none", nullable=False)
        )
        batch.add_column(sa.Column("send_endpoint_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_department_send_endpoint_id_open311_endpoint"),
            "open311_endpoint",
            ["send_endpoint_id"],
            ["id"],
            ondelete="SET NULL",
        )
    if sqlite:
        op.execute("PRAGMA foreign_keys = ON")
    # A category routed before this release keeps going where it went.
    op.execute("UPDATE category SET send_method = 'open311' WHERE send_endpoint_id IS NOT NULL")


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA foreign_keys = OFF")
    with op.batch_alter_table("department") as batch:
        batch.drop_constraint(
            batch.f("fk_department_send_endpoint_id_open311_endpoint"), type_="foreignkey"
        )
        batch.drop_column("send_endpoint_id")
        batch.drop_column("send_method")
    with op.batch_alter_table("category") as batch:
        batch.drop_column("remote_attributes")
        batch.drop_column("send_method")
    if sqlite:
        op.execute("PRAGMA foreign_keys = ON")
