"""documents' metadata on their points in the engine: a revision per change and a mark until the points
carry it; documents with metadata start marked, so the first sweep (at start) writes it onto points
that were written without it

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "documents", sa.Column("metadata_revision", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "documents", sa.Column("metadata_stale", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index(
        "ix_documents_metadata_stale", "documents", ["dataset_id"],
        sqlite_where=sa.text("metadata_stale = 1"), postgresql_where=sa.text("metadata_stale"),
    )  # fmt: skip
    op.execute(sa.text("UPDATE documents SET metadata_stale = true WHERE doc_metadata IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_documents_metadata_stale", "documents")
    op.drop_column("documents", "metadata_stale")
    op.drop_column("documents", "metadata_revision")
