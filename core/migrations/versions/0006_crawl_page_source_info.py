"""crawl pages keep where they came from (Notion page id and kind, database row properties)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 12:40:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_pages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("info", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"))
        )


def downgrade() -> None:
    with op.batch_alter_table("crawl_pages", schema=None) as batch_op:
        batch_op.drop_column("info")
