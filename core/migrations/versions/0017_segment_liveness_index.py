"""an index that answers a search's liveness check of its candidate segments by itself

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 12:00:00
"""

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_segments_liveness", "segments", ["id", "status", "enabled", "document_id"])


def downgrade() -> None:
    op.drop_index("ix_segments_liveness", table_name="segments")
