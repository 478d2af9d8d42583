"""admin settings and service area

Revision ID: 5e1f0a9b2c01
Revises: 4bda90bec775
Create Date: 2026-11-25 05:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e1f0a9b2c01'
down_revision = '4bda90bec775'
branch_labels = None
depends_on = None


def upgrade():
    # The boundary administrators upload; the newest row is the service area.
    op.create_table(
        "service_boundary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("geometry_json", sa.Text(), nullable=False),
        sa.Column("source_name", sa.String(length=200), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["user_account.id"],
            name=op.f("fk_service_boundary_uploaded_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_boundary")),
    )


def downgrade():
    op.drop_table("service_boundary")
