"""Response shapes of the dataset and tag routes."""

from typing import Any

from pydantic import BaseModel, Field


class TagRef(BaseModel):
    id: str
    name: str
    type: str


class MetadataFieldRef(BaseModel):
    id: str
    name: str
    type: str


class DatasetOut(BaseModel):
    id: str
    name: str
    description: str | None
    provider: str
    permission: str
    data_source_type: str | None
    indexing_technique: str | None
    app_count: int
    document_count: int
    word_count: int
    created_by: str
    author_name: str | None
    created_at: int
    updated_by: str | None
    updated_at: int
    embedding_model: str | None
    embedding_model_provider: str | None
    embedding_available: bool
    retrieval_model_dict: dict[str, Any]
    summary_index_setting: dict[str, Any]
    tags: list[TagRef]
    doc_form: str | None
    external_knowledge_info: dict[str, Any] | None
    external_retrieval_model: dict[str, Any] | None
    doc_metadata: list[MetadataFieldRef]
    built_in_field_enabled: bool
    pipeline_id: str | None
    runtime_mode: str
    chunk_structure: str | None
    icon_info: dict[str, Any] | None
    is_published: bool
    enable_api: bool
    is_multimodal: bool
    total_documents: int
    total_available_documents: int
    maintainer: str | None
    partial_member_list: list[str] | None = Field(
        default=None, description="Only for partial_members datasets"
    )


class DatasetPage(BaseModel):
    data: list[DatasetOut]
    has_more: bool
    limit: int
    total: int
    page: int


class TagOut(BaseModel):
    id: str
    name: str
    type: str
    binding_count: str | None


class TagCreate(BaseModel):
    name: str = Field(min_length=1, max_length=50)


class TagRename(BaseModel):
    tag_id: str = Field(max_length=36)
    name: str = Field(min_length=1, max_length=50)


class TagDelete(BaseModel):
    tag_id: str = Field(max_length=36)


class TagBindingBody(BaseModel):
    tag_ids: list[str] = Field(min_length=1, max_length=100)
    target_id: str = Field(max_length=36)


class TagUnbindingBody(BaseModel):
    """Newest form `tag_ids`, legacy form `tag_id`; either is accepted."""

    tag_ids: list[str] | None = Field(default=None, max_length=100)
    tag_id: str | None = Field(default=None, max_length=36)
    target_id: str = Field(max_length=36)

    def all_tag_ids(self) -> list[str]:
        return [*(self.tag_ids or []), *([self.tag_id] if self.tag_id else [])]


class DatasetTags(BaseModel):
    data: list[dict[str, str]]
    total: int
