"""documents are looked up by dataset and name at every create (the same-name re-use rule)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:20:00
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_documents_dataset_name", "documents", ["dataset_id", "name"])


def downgrade() -> None:
    op.drop_index("ix_documents_dataset_name", table_name="documents")
