from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, new_id, utcnow

# The account a workspace's API keys act as (Dify acts as the tenant's owner).
OWNER_ROLE = "owner"


class Plan(StrEnum):
    SANDBOX = "sandbox"
    PROFESSIONAL = "professional"
    TEAM = "team"


class WorkspaceStatus(StrEnum):
    NORMAL = "normal"
    ARCHIVED = "archive"


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    plan: Mapped[str] = mapped_column(String(32), default=Plan.TEAM)
    status: Mapped[str] = mapped_column(String(32), default=WorkspaceStatus.NORMAL)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Account(Base):
    """A member of a workspace. API keys act as the workspace owner, as in Dify."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32), default=OWNER_ROLE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
