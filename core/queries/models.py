from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, JSONType, new_id, utcnow


class DatasetQuery(Base):
    """One recorded retrieval (hit-testing, /retrieve or the external /retrieval call)."""

    __tablename__ = "dataset_queries"
    __table_args__ = (Index("ix_dataset_queries_dataset_created", "dataset_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32))
    retrieval_model: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_by_role: Mapped[str] = mapped_column(String(32), default="account")
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
