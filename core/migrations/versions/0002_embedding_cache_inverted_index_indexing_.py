"""embedding cache, inverted index, indexing generations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 06:57:34.925647
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embedding_cache",
        sa.Column("model_key", sa.String(length=255), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("model_key", "text_hash"),
    )
    op.create_table(
        "keyword_nodes",
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("segment_id", sa.String(length=36), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("node_id"),
    )
    with op.batch_alter_table("keyword_nodes", schema=None) as batch_op:
        batch_op.create_index("ix_keyword_nodes_dataset", ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_keyword_nodes_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_keyword_nodes_segment_id"), ["segment_id"], unique=False)

    op.create_table(
        "keyword_postings",
        sa.Column("node_id", sa.String(length=36), nullable=False),
        sa.Column("term", sa.String(length=128), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("term_frequency", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["keyword_nodes.node_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("node_id", "term"),
    )
    with op.batch_alter_table("keyword_postings", schema=None) as batch_op:
        batch_op.create_index("ix_keyword_postings_dataset_term", ["dataset_id", "term"], unique=False)

    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vector_collection", sa.String(length=128), nullable=True))

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("index_generation", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("generation", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("segments", schema=None) as batch_op:
        batch_op.drop_column("generation")

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("index_generation")

    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("vector_collection")

    with op.batch_alter_table("keyword_postings", schema=None) as batch_op:
        batch_op.drop_index("ix_keyword_postings_dataset_term")

    op.drop_table("keyword_postings")
    with op.batch_alter_table("keyword_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_keyword_nodes_segment_id"))
        batch_op.drop_index(batch_op.f("ix_keyword_nodes_document_id"))
        batch_op.drop_index("ix_keyword_nodes_dataset")

    op.drop_table("keyword_nodes")
    op.drop_table("embedding_cache")
