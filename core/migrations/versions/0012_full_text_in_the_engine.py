"""full-text index in the search engine: the postings tables go

Term collections missing from the engine are built from the segments when the service starts
(core.ingestion.reindex.build_missing_term_collections).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 12:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("keyword_postings")
    op.drop_table("keyword_nodes")


def downgrade() -> None:
    op.create_table(
        "keyword_nodes",
        sa.Column("node_id", sa.String(length=36), primary_key=True),
        sa.Column("dataset_id", sa.String(length=36), sa.ForeignKey("datasets.id", ondelete="CASCADE")),
        sa.Column("document_id", sa.String(length=36), sa.ForeignKey("documents.id", ondelete="CASCADE"),
                  index=True),
        sa.Column("segment_id", sa.String(length=36), sa.ForeignKey("segments.id", ondelete="CASCADE"),
                  index=True),
        sa.Column("length", sa.Integer(), nullable=False),
    )  # fmt: skip
    op.create_index("ix_keyword_nodes_dataset", "keyword_nodes", ["dataset_id"])
    op.create_table(
        "keyword_postings",
        sa.Column("node_id", sa.String(length=36), sa.ForeignKey("keyword_nodes.node_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("term", sa.String(length=128), primary_key=True),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("term_frequency", sa.Integer(), nullable=False),
    )  # fmt: skip
    op.create_index("ix_keyword_postings_dataset_term", "keyword_postings", ["dataset_id", "term"])
