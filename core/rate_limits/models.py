from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, new_id, utcnow


class RateLimitLog(Base):
    """One refused request, as Dify records them (workspace, its plan, the limited operation)."""

    __tablename__ = "rate_limit_logs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    subscription_plan: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
