"""dataset-scoped API keys: a key may be limited to some datasets of its workspace

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:45:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("dataset_ids", json_type, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("dataset_ids")
