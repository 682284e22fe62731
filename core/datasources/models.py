from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, new_id, utcnow


class DataSourceCredential(Base):
    """A workspace's credentials for one online source (Notion, Firecrawl, Jina Reader), encrypted."""

    __tablename__ = "data_source_credentials"
    __table_args__ = (UniqueConstraint("workspace_id", "provider", name="uq_data_source_credentials"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    encrypted_config: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
