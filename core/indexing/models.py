"""Tables behind the indexes: the embedding cache and the inverted index (postings in the database)."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
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


class KeywordNode(Base):
    """An indexed unit of text (a segment, or a child chunk of a parent-child document) and its length."""

    __tablename__ = "keyword_nodes"
    __table_args__ = (Index("ix_keyword_nodes_dataset", "dataset_id"),)

    node_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    segment_id: Mapped[str] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), index=True)
    length: Mapped[int]


class KeywordPosting(Base):
    __tablename__ = "keyword_postings"
    __table_args__ = (Index("ix_keyword_postings_dataset_term", "dataset_id", "term"),)

    node_id: Mapped[str] = mapped_column(
        ForeignKey("keyword_nodes.node_id", ondelete="CASCADE"), primary_key=True
    )
    term: Mapped[str] = mapped_column(String(128), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(String(36))
    term_frequency: Mapped[int]
