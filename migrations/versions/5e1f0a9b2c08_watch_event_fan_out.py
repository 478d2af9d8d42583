"""watch event fan-out

Revision ID: 5e1f0a9b2c08
Revises: 5e1f0a9b2c07
Create Date: 2026-11-25 08:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5e1f0a9b2c08"
down_revision = "5e1f0a9b2c07"
branch_labels = None
depends_on = None


def upgrade():
    pass  # placeholder: filled in by the work that needs it


def downgrade():
    pass
