"""rate limit logs: refused knowledge requests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 12:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_logs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("workspace_id", sa.String(length=36), nullable=False),
        sa.Column("subscription_plan", sa.String(length=32), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rate_limit_logs", schema=None) as batch_op:
        batch_op.create_index("ix_rate_limit_logs_workspace_id", ["workspace_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_limit_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_limit_logs_workspace_id")
    op.drop_table("rate_limit_logs")
