from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, JSONType, new_id, utcnow


class ApiKey(Base):
    """A bearer key of type `dataset`. Only the SHA-256 of the token is stored."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16), default="dataset")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    masked_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The datasets a dataset-scoped key may reach (null: every dataset of its workspace).
    dataset_ids: Mapped[list[str] | None] = mapped_column(JSONType)


class ConsoleSession(Base):
    """A signed-in admin UI session: the browser holds only a random token (HttpOnly cookie) whose
    SHA-256 is stored here, bound to the API key it signed in with. Revoking that key ends it."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    # Sent back by the page on every state-changing request (double submit, bound to the session).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
