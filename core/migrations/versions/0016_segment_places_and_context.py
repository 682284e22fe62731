"""segments know where they are: their page range and heading path, and the context line (document
title and heading path) the indexes read before their text; documents record their pages and which
of them were read by OCR

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 18:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Migrations keep their own copy of column types: the models may change after them.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("segments", sa.Column("page_start", sa.Integer(), nullable=True))
    op.add_column("segments", sa.Column("page_end", sa.Integer(), nullable=True))
    op.add_column("segments", sa.Column("heading_path", JSONType, nullable=True))
    op.add_column("segments", sa.Column("context", sa.Text(), nullable=True))
    op.add_column("documents", sa.Column("extraction", JSONType, nullable=True))


def downgrade() -> None:
    op.drop_column("documents", "extraction")
    for column in ("context", "heading_path", "page_end", "page_start"):
        op.drop_column("segments", column)
