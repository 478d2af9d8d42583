"""email updates on a report without an account

Revision ID: 5e1f0a9b2c16
Revises: 5e1f0a9b2c15
Create Date: 2026-12-06 03:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c16"
down_revision = "5e1f0a9b2c15"
branch_labels = None
depends_on = None


def upgrade():
    # Confirmed addresses that get a report's update emails without an account.
    op.create_table(
        "email_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("locale", sa.String(length=8), server_default="", nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_email_subscription_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_subscription")),
        sa.UniqueConstraint("report_id", "email", name=op.f("uq_email_subscription_report_id")),
    )
    with op.batch_alter_table("email_subscription") as batch:
        batch.create_index(batch.f("ix_email_subscription_email"), ["email"], unique=False)


def downgrade():
    with op.batch_alter_table("email_subscription") as batch:
        batch.drop_index(batch.f("ix_email_subscription_email"))
    op.drop_table("email_subscription")
