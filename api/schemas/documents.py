"""Response shapes of the document routes."""

from typing import Any

from pydantic import BaseModel, Field


class DocumentOut(BaseModel):
    id: str
    position: int
    data_source_type: str
    data_source_info: dict[str, Any] | None
    data_source_detail_dict: dict[str, Any] | None
    dataset_process_rule_id: str | None
    name: str
    created_from: str
    created_by: str
    created_at: int
    tokens: int
    indexing_status: str
    error: str | None
    enabled: bool
    disabled_at: int | None
    disabled_by: str | None
    archived: bool
    display_status: str
    word_count: int
    hit_count: int
    doc_form: str
    doc_metadata: list[dict[str, Any]]
    summary_index_status: str | None
    need_summary: bool


class DocumentWithBatch(BaseModel):
    document: DocumentOut
    batch: str


class DocumentPage(BaseModel):
    data: list[DocumentOut]
    has_more: bool
    limit: int
    total: int
    page: int


class IndexingStatusOut(BaseModel):
    id: str
    indexing_status: str
    processing_started_at: int | None
    parsing_completed_at: int | None
    cleaning_completed_at: int | None
    splitting_completed_at: int | None
    completed_at: int | None
    paused_at: int | None
    error: str | None
    stopped_at: int | None
    completed_segments: int
    total_segments: int
    retries: int = Field(
        description="ours: runs that failed on a dependency since the last success (retried with back-off)"
    )
    extraction: dict | None = Field(
        None,
        description="ours: pages (total), ocr_pages (read by OCR) and, while pages are read, pages_read",
    )


class IndexingStatusList(BaseModel):
    data: list[IndexingStatusOut]


class DocumentIdsBody(BaseModel):
    document_ids: list[str] = Field(default_factory=list, max_length=1000)


class ZipBody(BaseModel):
    document_ids: list[str] = Field(min_length=1, max_length=100)


class RetryBody(BaseModel):
    document_ids: list[str] = Field(min_length=1, max_length=100)


class ResultOut(BaseModel):
    result: str = "success"
