"""vector index generations: the model of the serving collection and the one being built

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("vector_model", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("vector_model_provider", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("pending_vector_collection", sa.String(length=128), nullable=True))
    # Until now a dataset's collection always held vectors of its configured model.
    op.execute(
        "UPDATE datasets SET vector_model = embedding_model, "
        "vector_model_provider = embedding_model_provider WHERE vector_collection IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("pending_vector_collection")
        batch_op.drop_column("vector_model_provider")
        batch_op.drop_column("vector_model")
