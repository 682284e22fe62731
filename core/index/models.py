"""The embedding cache: the full-text and vector indexes themselves live in the search engine."""

from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, utcnow


class EmbeddingCacheEntry(Base):
    """One text's vector under one model, keyed by the SHA-256 of the text: unchanged chunks are never
    embedded twice, whichever document or dataset they come from."""

    __tablename__ = "embedding_cache"

    model_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian
    tokens: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
