from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, JSONType, new_id, utcnow


class IndexingStatus(StrEnum):
    WAITING = "waiting"
    PARSING = "parsing"
    CLEANING = "cleaning"
    SPLITTING = "splitting"
    INDEXING = "indexing"
    COMPLETED = "completed"
    ERROR = "error"


class DataSourceType(StrEnum):
    UPLOAD_FILE = "upload_file"
    NOTION_IMPORT = "notion_import"
    WEBSITE_CRAWL = "website_crawl"


# Where online documents (fetched, stored as a file, kept in sync with their source) come from.
ONLINE_SOURCES = (DataSourceType.WEBSITE_CRAWL, DataSourceType.NOTION_IMPORT)
# How Dify names a document's source in the built-in `source` metadata field.
SOURCE_NAMES: dict[str, str] = {
    DataSourceType.UPLOAD_FILE: "file_upload",
    DataSourceType.NOTION_IMPORT: "notion",
    DataSourceType.WEBSITE_CRAWL: "website",
}

# A document in one of these states is being worked on by an indexing run.
IN_PROGRESS = (
    IndexingStatus.PARSING,
    IndexingStatus.CLEANING,
    IndexingStatus.SPLITTING,
    IndexingStatus.INDEXING,
)
# A document in one of these states has work left that a worker must finish.
UNFINISHED_STATUSES = (IndexingStatus.WAITING, *IN_PROGRESS)


class UploadFile(Base):
    __tablename__ = "upload_files"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    storage_key: Mapped[str] = mapped_column(String(512))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    extension: Mapped[str] = mapped_column(String(32))
    mime_type: Mapped[str | None] = mapped_column(String(255))
    hash: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(36))
    # The key that uploaded a file for a later pipeline run (null for a document's own upload).
    api_key_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessRule(Base):
    __tablename__ = "process_rules"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(32))
    rules: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_dataset_position", "dataset_id", "position"),
        Index("ix_documents_dataset_batch", "dataset_id", "batch"),
        # Creating a document looks for one of the same name to re-use.
        Index("ix_documents_dataset_name", "dataset_id", "name"),
        Index("ix_documents_indexing_status", "indexing_status"),
        # searches with a metadata filter look up the marked documents of their dataset: usually none
        Index(
            "ix_documents_metadata_stale",
            "dataset_id",
            sqlite_where=text("metadata_stale = 1"),
            postgresql_where=text("metadata_stale"),
        ),  # fmt: skip
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    position: Mapped[int]
    data_source_type: Mapped[str] = mapped_column(String(32))
    data_source_info: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    dataset_process_rule_id: Mapped[str | None] = mapped_column(
        ForeignKey("process_rules.id", ondelete="SET NULL")
    )
    batch: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    created_from: Mapped[str] = mapped_column(String(32), default="api")
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    upload_file_id: Mapped[str | None] = mapped_column(ForeignKey("upload_files.id", ondelete="SET NULL"))
    processing_started_at: Mapped[datetime | None]
    word_count: Mapped[int] = mapped_column(default=0)
    parsing_completed_at: Mapped[datetime | None]
    cleaning_completed_at: Mapped[datetime | None]
    splitting_completed_at: Mapped[datetime | None]
    tokens: Mapped[int] = mapped_column(default=0)
    indexing_latency: Mapped[float | None]
    completed_at: Mapped[datetime | None]
    is_paused: Mapped[bool] = mapped_column(default=False)
    paused_by: Mapped[str | None] = mapped_column(String(36))
    paused_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    stopped_at: Mapped[datetime | None]
    indexing_status: Mapped[str] = mapped_column(String(32), default=IndexingStatus.WAITING)
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_at: Mapped[datetime | None]
    disabled_by: Mapped[str | None] = mapped_column(String(36))
    archived: Mapped[bool] = mapped_column(default=False)
    archived_reason: Mapped[str | None] = mapped_column(String(255))
    archived_by: Mapped[str | None] = mapped_column(String(36))
    archived_at: Mapped[datetime | None]
    doc_type: Mapped[str | None] = mapped_column(String(64))
    doc_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    doc_form: Mapped[str] = mapped_column(String(32), default="text_model")
    doc_language: Mapped[str | None] = mapped_column(String(64))
    # What extraction found: {"pages": n, "ocr_pages": [numbers read by OCR]} (null: not paged); while
    # the pages are read, also "pages_read" (how many so far).
    extraction: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Bumped by every indexing run that claims the document; segments carry the generation that wrote them.
    index_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    # Refreshed by the run indexing the document; a stale heartbeat means that run died.
    heartbeat_at: Mapped[datetime | None]
    # The process whose run holds the document (host:pid:start), so a dead holder is known at once.
    lease_holder: Mapped[str | None] = mapped_column(String(128))
    # Every change of doc_metadata bumps the revision and marks the document until its points in the
    # engine carry the new values (core.index.point_metadata).
    metadata_revision: Mapped[int] = mapped_column(default=0, server_default="0")
    metadata_stale: Mapped[bool] = mapped_column(default=False, server_default=sa_false())
    # Runs since the last success that failed on a dependency (the model, the engine, the database).
    indexing_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
