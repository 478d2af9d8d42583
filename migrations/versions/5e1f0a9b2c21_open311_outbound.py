"""open311 outbound: endpoints, requests to send, updates read back

Revision ID: 5e1f0a9b2c21
Revises: 5e1f0a9b2c19
Create Date: 2026-12-06 04:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c21"
down_revision = "5e1f0a9b2c19"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "open311_endpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("root_url", sa.String(length=500), nullable=False),
        sa.Column("api_key", sa.String(length=200), nullable=False),
        sa.Column("jurisdiction", sa.String(length=100), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sync_cursor", sa.DateTime(), nullable=True),
        sa.Column("synced_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_endpoint")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_endpoint_name")),
    )
    op.create_table(
        "outbound_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("remote_request_id", sa.String(length=100), server_default="", nullable=False),
        sa.Column("remote_token", sa.String(length=100), server_default="", nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["open311_endpoint.id"],
            name=op.f("fk_outbound_request_endpoint_id_open311_endpoint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_outbound_request_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_request")),
        sa.UniqueConstraint("report_id", "endpoint_id", name=op.f("uq_outbound_request_report_id")),
    )
    with op.batch_alter_table("outbound_request") as batch:
        batch.create_index(batch.f("ix_outbound_request_endpoint_id"), ["endpoint_id"])
        batch.create_index(batch.f("ix_outbound_request_state"), ["state"])
    op.create_table(
        "open311_remote_update",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.String(length=120), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["open311_endpoint.id"],
            name=op.f("fk_open311_remote_update_endpoint_id_open311_endpoint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_open311_remote_update_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_remote_update")),
        sa.UniqueConstraint(
            "endpoint_id", "update_id", name=op.f("uq_open311_remote_update_endpoint_id")
        ),
    )
    if op.get_bind().dialect.name == "sqlite":
        # The batch copy of "category" drops the table every report points at: foreign
        # keys are off while it is rebuilt (SQLite runs this DDL outside a transaction).
        op.execute("PRAGMA foreign_keys = OFF")
    with op.batch_alter_table("category") as batch:
        batch.add_column(sa.Column("send_endpoint_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column(
                "remote_service_code", sa.String(length=64), server_default="", nullable=False
            )
        )
        batch.create_foreign_key(
            batch.f("fk_category_send_endpoint_id_open311_endpoint"),
            "open311_endpoint",
            ["send_endpoint_id"],
            ["id"],
            ondelete="SET NULL",
        )
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys = ON")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys = OFF")
    with op.batch_alter_table("category") as batch:
        batch.drop_constraint(
            batch.f("fk_category_send_endpoint_id_open311_endpoint"), type_="foreignkey"
        )
        batch.drop_column("remote_service_code")
        batch.drop_column("send_endpoint_id")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys = ON")
    op.drop_table("open311_remote_update")
    with op.batch_alter_table("outbound_request") as batch:
        batch.drop_index(batch.f("ix_outbound_request_state"))
        batch.drop_index(batch.f("ix_outbound_request_endpoint_id"))
    op.drop_table("outbound_request")
    op.drop_table("open311_endpoint")
