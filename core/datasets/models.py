from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.database import Base, JSONType, new_id, utcnow


class IndexingTechnique(StrEnum):
    HIGH_QUALITY = "high_quality"
    ECONOMY = "economy"


class DatasetPermission(StrEnum):
    ONLY_ME = "only_me"
    ALL_TEAM = "all_team_members"
    PARTIAL_TEAM = "partial_members"


class DatasetProvider(StrEnum):
    VENDOR = "vendor"
    EXTERNAL = "external"


class DocForm(StrEnum):
    TEXT = "text_model"
    HIERARCHICAL = "hierarchical_model"
    QA = "qa_model"


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_datasets_workspace_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text, default="")
    provider: Mapped[str] = mapped_column(String(32), default=DatasetProvider.VENDOR)
    permission: Mapped[str] = mapped_column(String(32), default=DatasetPermission.ONLY_ME)
    data_source_type: Mapped[str | None] = mapped_column(String(32))
    indexing_technique: Mapped[str | None] = mapped_column(String(32))
    embedding_model: Mapped[str | None] = mapped_column(String(255))
    embedding_model_provider: Mapped[str | None] = mapped_column(String(255))
    retrieval_model: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    summary_index_setting: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    built_in_field_enabled: Mapped[bool] = mapped_column(default=False)
    chunk_structure: Mapped[str | None] = mapped_column(String(32))
    runtime_mode: Mapped[str] = mapped_column(String(32), default="general")
    pipeline_id: Mapped[str | None] = mapped_column(String(36))
    icon_info: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    is_published: Mapped[bool] = mapped_column(default=False)
    enable_api: Mapped[bool] = mapped_column(default=True)
    is_multimodal: Mapped[bool] = mapped_column(default=False)
    maintainer: Mapped[str | None] = mapped_column(String(36))
    # The Qdrant collection searches use and the model its vectors come from. When the embedding model
    # changes, the new model's vectors are built in `pending_vector_collection` while searches keep
    # using the old one; the two are swapped once the new collection is complete.
    vector_collection: Mapped[str | None] = mapped_column(String(128))
    vector_model: Mapped[str | None] = mapped_column(String(255))
    vector_model_provider: Mapped[str | None] = mapped_column(String(255))
    pending_vector_collection: Mapped[str | None] = mapped_column(String(128))
    # Online documents (website, Notion) are synced with their source this often; None: only on request.
    sync_interval_minutes: Mapped[int | None]
    last_synced_at: Mapped[datetime | None]
    external_knowledge_api_id: Mapped[str | None] = mapped_column(String(36))
    external_knowledge_id: Mapped[str | None] = mapped_column(String(255))
    external_retrieval_model: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DatasetMember(Base):
    """Accounts granted access to a `partial_members` dataset."""

    __tablename__ = "dataset_members"
    __table_args__ = (UniqueConstraint("dataset_id", "account_id", name="uq_dataset_members"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
