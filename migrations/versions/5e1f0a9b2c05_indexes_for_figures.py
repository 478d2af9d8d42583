"""indexes for figures

Revision ID: 5e1f0a9b2c05
Revises: 5e1f0a9b2c04
Create Date: 2026-11-25 05:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5e1f0a9b2c05'
down_revision = '5e1f0a9b2c04'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
