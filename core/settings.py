"""One typed settings object, read from the environment and an optional `.env` file.

Leaving DATABASE_URL, REDIS_URL and QDRANT_URL unset selects the embedded defaults: a SQLite file
and Qdrant Edge (Qdrant's engine in-process) under the data directory, and a worker inside the API
process.
"""

from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from etl.extractors.archives import ArchiveLimits
from etl.extractors.ocr import OcrSettings, TextRecognizer, ocr_available, shared_recognizer

MEGABYTE = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    kb_data_dir: Path = Field(default=Path("data"))
    database_url: str | None = None
    redis_url: str | None = None
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    qdrant_path: Path | None = None  # the embedded engine's directory
    # Threads one search of the embedded engine may use; 0 lets it take every core.
    engine_search_threads: int = Field(default=1, ge=0)
    # Collections created on a Qdrant server: shards spread over its nodes, each kept this many times.
    qdrant_shard_number: int | None = Field(default=None, ge=1)
    qdrant_replication_factor: int | None = Field(default=None, ge=1)

    # Run the Celery worker inside the API process; defaults to "no Redis configured".
    kb_embedded_worker: bool | None = None

    embedding_provider: str = "sentence_transformers"
    embedding_model: str = "all-MiniLM-L6-v2"
    # Directory of a sentence-transformers model; unset means the bundled all-MiniLM-L6-v2.
    embedding_model_path: Path | None = None
    embedding_api_base_url: str | None = None
    embedding_api_key: str | None = None
    # Comma-separated models of that API offered beside the default one, e.g. for moving datasets over.
    embedding_api_models: str = ""
    embedding_batch_size: int = 8
    # Processes running the local embedding model; 0 picks one per core (at most 4), 1 runs it in
    # the service's own process.
    embedding_processes: int = Field(default=0, ge=0)
    rerank_provider: str | None = None
    rerank_model: str | None = None
    # `sentence_transformers` loads a CrossEncoder from this directory; other providers go over HTTP.
    rerank_model_path: Path | None = None
    rerank_api_base_url: str | None = None
    rerank_api_key: str | None = None

    etl_type: str = "default"
    unstructured_api_url: str | None = None
    unstructured_api_key: str | None = None
    # OpenAI-compatible chat endpoint that writes Q&A pairs for qa_model documents.
    qa_llm_base_url: str | None = None
    qa_llm_api_key: str | None = None
    qa_llm_model: str | None = None

    kb_worker_concurrency: int = 1
    # One log line a request: about 0.4 ms of the API process's CPU, 6 % of a cheap request.
    kb_access_log: bool = False
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    indexing_retries: int = Field(default=5, ge=0, le=20)
    indexing_retry_seconds: float = Field(default=10.0, gt=0, le=3600)
    storage_type: Literal["local", "s3"] = "local"
    s3_endpoint: str | None = None
    s3_bucket_name: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_address_style: Literal["auto", "path", "virtual"] = "auto"

    # Signs download links; unset, a random key is kept in the data directory.
    secret_key: str | None = None
    # Public base URL of the API for download links; unset, the URL the request came to.
    files_url: str | None = None
    files_access_timeout: int = 300  # seconds a download link stays valid
    ui_session_hours: int = Field(default=12, ge=1)  # an admin UI sign-in lasts this long

    upload_file_size_limit: int = 15  # MB
    # Bounds on inflating an archive-based upload (docx, xlsx, pptx, epub): all members together, one
    # member, how many members, and how many times its compressed size a member may inflate.
    archive_max_expanded_mb: int = Field(default=100, ge=1)
    archive_max_member_mb: int = Field(default=100, ge=1)
    archive_max_members: int = Field(default=10_000, ge=1)
    archive_max_ratio: int = Field(default=200, ge=1)
    # OCR of pages without a text layer and of image uploads (RapidOCR's packaged models, on the CPU).
    ocr_enabled: bool = True
    ocr_threads: int = Field(default=1, ge=0)  # per recognition; 0: every core
    ocr_render_dpi: int = Field(default=200, ge=72, le=600)
    ocr_max_pages: int = Field(default=100, ge=0)  # pages of one document read by OCR; past it: skipped
    upload_file_batch_limit: int = 5
    top_k_max_value: int = 10
    # Share of a chunk's full-text score that comes from its whole document (0: the chunk alone).
    full_text_document_weight: float = Field(default=0.7, ge=0, le=1)
    query_embedding_cache_size: int = Field(default=4096, ge=0)
    # Comma-separated hosts that URLs from requests may reach although they resolve to private or
    # loopback addresses (e.g. a self-hosted Firecrawl inside the network).
    outbound_allowed_hosts: str = ""
    # Seconds between polls of a crawl job at the provider.
    crawl_poll_interval: float = 2.0
    # Bounds of one job reading an online source: requests to the provider, and seconds in all.
    crawl_max_requests: int = Field(default=5000, ge=1)
    crawl_timeout_seconds: int = Field(default=3600, ge=1)
    # Largest JSON request body (create-by-text carries whole documents); uploads have their own limit.
    json_body_limit_mb: int = 20
    # Knowledge requests per workspace in any 60 seconds, by plan.
    knowledge_rate_limit_enabled: bool = True
    knowledge_rate_limit_sandbox: int = 10
    knowledge_rate_limit_professional: int = 100
    knowledge_rate_limit_team: int = 1000
    dataset_max_segments_per_request: int = 0  # 0: no limit
    indexing_max_segmentation_tokens_length: int = 4000

    @property
    def archive_limits(self) -> ArchiveLimits:
        return ArchiveLimits(
            max_expanded_bytes=self.archive_max_expanded_mb * 2**20,
            max_member_bytes=self.archive_max_member_mb * 2**20,
            max_members=self.archive_max_members,
            max_ratio=self.archive_max_ratio,
        )

    @property
    def text_recognizer(self) -> TextRecognizer | None:
        """The OCR engine, or None when OCR is off or its packages are not installed."""
        if not self.ocr_enabled or not ocr_available():
            return None
        return shared_recognizer(
            OcrSettings(self.ocr_threads, self.ocr_render_dpi, max_pages=self.ocr_max_pages)
        )

    @cached_property
    def data_dir(self) -> Path:
        """Resolved once: every session and upload path starts here."""
        return self.kb_data_dir.resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'kb.sqlite3'}"

    @property
    def resolved_qdrant_path(self) -> Path:
        return (self.qdrant_path or self.data_dir / "qdrant-edge").resolve()

    @property
    def legacy_local_mode_path(self) -> Path:
        """Where qdrant-client's local mode kept vectors before the embedded engine was Qdrant Edge."""
        return self.data_dir / "qdrant"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def embedded_worker(self) -> bool:
        if self.kb_embedded_worker is not None:
            return self.kb_embedded_worker
        return self.redis_url is None

    @property
    def celery_broker_url(self) -> str:
        return self.redis_url or "memory://"

    @property
    def upload_file_size_limit_bytes(self) -> int:
        return self.upload_file_size_limit * MEGABYTE


@lru_cache
def get_settings() -> Settings:
    return Settings()
