"""upload_files.api_key_id: the key that uploaded a file not yet part of a document (the pipeline's
file upload), so that a dataset-scoped key can use its own uploads and no one else's

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 17:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("upload_files", sa.Column("api_key_id", sa.String(36), nullable=True))


def downgrade() -> None:
    op.drop_column("upload_files", "api_key_id")
