"""One typed settings object, read from the environment and an optional `.env` file.

Leaving DATABASE_URL, REDIS_URL and QDRANT_URL unset selects the embedded defaults: a SQLite file
and Qdrant Edge (Qdrant's engine in-process) under the data directory, and a worker inside the API
process.
"""

from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from etl.extractors.archives import ArchiveLimits
from etl.extractors.ocr import OcrSettings, TextRecognizer, ocr_available, shared_recognizer

MEGABYTE = 1024 * 1024


def setting(default: Any, meaning: str, *, section: str, shown: str | None = None, **constraints: Any) -> Any:
    """A setting with what it means, for docs/configuration.md (generated from this class by
    `python -m core.configuration`): `shown` says the default where the value alone would not."""
    extra: dict[str, Any] = {"section": section} | ({"shown_default": shown} if shown else {})
    return Field(default=default, description=meaning, json_schema_extra=extra, **constraints)


STORAGE, MODELS, EXTRACTION, LIMITS, OPERATIONS = (
    "Storage and engines",
    "Models",
    "Extraction",
    "Limits",
    "Operations",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    kb_data_dir: Path = setting(
        Path("data"),
        "data directory: SQLite file, the embedded engine's collections, uploads",
        section=STORAGE,
        shown="`./data`",
    )
    database_url: str | None = setting(
        None,
        "SQLAlchemy URL; `postgresql+psycopg://user@host/db` for server mode",
        section=STORAGE,
        shown="unset: `sqlite:///$KB_DATA_DIR/kb.sqlite3`",
    )
    redis_url: str | None = setting(
        None,
        "Celery broker for server mode, e.g. `redis://host:6379/0`",
        section=STORAGE,
        shown="unset: in-process worker",
    )
    qdrant_url: str | None = setting(
        None,
        "Qdrant server URL, e.g. `http://qdrant:6333`",
        section=STORAGE,
        shown="unset: Qdrant Edge in-process",
    )
    qdrant_api_key: str | None = setting(None, "API key of the Qdrant server", section=STORAGE)
    qdrant_path: Path | None = setting(
        None,
        "directory of the embedded engine (Qdrant Edge): one shard directory per collection",
        section=STORAGE,
        shown="`$KB_DATA_DIR/qdrant-edge`",
    )
    engine_search_threads: int = setting(
        1,
        "threads one search of the embedded engine may use (set on every collection when it opens); "
        "`0` lets it spread a search over every core, which on small machines costs more than it saves "
        "and takes the core the query is being embedded on. A Qdrant server sets its own "
        "(`performance.max_search_threads`)",
        section=STORAGE,
        ge=0,
    )
    qdrant_shard_number: int | None = setting(
        None,
        "shards of each collection created on a Qdrant server; in its distributed mode they spread "
        "over the nodes",
        section=STORAGE,
        shown="unset: the server's default (1)",
        ge=1,
    )
    qdrant_replication_factor: int | None = setting(
        None,
        "copies of each shard on a Qdrant cluster",
        section=STORAGE,
        shown="unset: the server's default (1)",
        ge=1,
    )
    kb_embedded_worker: bool | None = setting(
        None,
        "run the Celery worker inside `kb serve`",
        section=STORAGE,
        shown="`true` when `REDIS_URL` is unset",
    )
    storage_type: Literal["local", "s3"] = setting(
        "local",
        "where uploaded files and crawled pages are kept: `local` (`KB_DATA_DIR/uploads`) or "
        "`s3`, any S3-compatible store (AWS S3, MinIO, Ceph, Cloudflare R2), which several API hosts and "
        "workers can share",
        section=STORAGE,
    )
    s3_endpoint: str | None = setting(
        None, "the store's URL, e.g. `http://minio:9000`", section=STORAGE, shown="unset (AWS)"
    )
    s3_bucket_name: str | None = setting(None, "the bucket (it must exist)", section=STORAGE)
    s3_region: str = setting("us-east-1", "the bucket's region", section=STORAGE)
    s3_access_key: str | None = setting(
        None,
        "the store's access key; unset, boto3 finds credentials itself (environment, instance or pod role)",
        section=STORAGE,
    )
    s3_secret_key: str | None = setting(None, "the store's secret key", section=STORAGE)
    s3_address_style: Literal["auto", "path", "virtual"] = setting(
        "auto",
        "`path` for stores that need `endpoint/bucket/key` URLs (MinIO, Ceph), `virtual`, or `auto`",
        section=STORAGE,
    )

    embedding_provider: str = setting(
        "sentence_transformers",
        "`sentence_transformers` (local) or `openai_api_compatible` (any "
        "`/v1/embeddings` API: OpenAI, Jina, Xinference, Ollama, vLLM, TEI)",
        section=MODELS,
    )
    embedding_model: str = setting(
        "all-MiniLM-L6-v2", "default embedding model of high-quality datasets", section=MODELS
    )
    embedding_model_path: Path | None = setting(
        None,
        "directory of the sentence-transformers model (loaded offline)",
        section=MODELS,
        shown="the bundled all-MiniLM-L6-v2",
    )
    embedding_api_base_url: str | None = setting(
        None, "base URL of the OpenAI-compatible API, e.g. `http://tei:8080/v1`", section=MODELS
    )
    embedding_api_key: str | None = setting(None, "bearer key of that API", section=MODELS)
    embedding_api_models: str = setting(
        "",
        "comma-separated models of that API offered beside the default (`openai_api_compatible` "
        "provider), e.g. to move datasets to another model",
        section=MODELS,
    )
    embedding_batch_size: int = setting(
        8, "texts per model forward pass (sorted by length; small batches pad less on CPU)", section=MODELS
    )
    embedding_processes: int = setting(
        0,
        "processes that run the local (`sentence_transformers`) model, single-threaded when there is "
        "one per core; each length-sorted model batch goes to whichever process is free. `1` runs the "
        "model inside the service's process on every core. Each process holds its own copy of the model "
        "(about 300 MB with torch)",
        section=MODELS,
        shown="`0` (one per core, at most 4)",
        ge=0,
    )
    rerank_provider: str | None = setting(
        None,
        "provider of the rerank model datasets may name: `sentence_transformers` (a local "
        "CrossEncoder) or any HTTP provider speaking `POST /rerank` (`cohere`, `jina`, `xinference`, "
        "`tei`, ...)",
        section=MODELS,
    )
    rerank_model: str | None = setting(None, "rerank model datasets may name", section=MODELS)
    rerank_model_path: Path | None = setting(
        None, "directory of the local CrossEncoder (loaded offline)", section=MODELS
    )
    rerank_api_base_url: str | None = setting(
        None, "base URL of the HTTP rerank API, e.g. `http://tei:8080/v1`", section=MODELS
    )
    rerank_api_key: str | None = setting(None, "its bearer key", section=MODELS)
    qa_llm_base_url: str | None = setting(
        None,
        "OpenAI-compatible chat API that writes Q&A pairs for `qa_model` documents made from text",
        section=MODELS,
    )
    qa_llm_api_key: str | None = setting(None, "its bearer key", section=MODELS)
    qa_llm_model: str | None = setting(None, "the chat model to use for that", section=MODELS)

    etl_type: str = setting(
        "default",
        "`default` (local extractors for every format) or `unstructured` (md, doc, msg, eml, "
        "ppt, pptx, xml, epub go to an Unstructured API server, as in Dify)",
        section=EXTRACTION,
    )
    unstructured_api_url: str | None = setting(
        None,
        "the Unstructured partition endpoint, e.g. `http://unstructured:8000/general/v0/general`",
        section=EXTRACTION,
    )
    unstructured_api_key: str | None = setting(None, "its API key", section=EXTRACTION)
    ocr_enabled: bool = setting(
        True,
        "read pages without a text layer and image uploads by OCR (RapidOCR's packaged models, on "
        "the CPU); off, scans fail with that reason and images are refused at upload",
        section=EXTRACTION,
    )
    ocr_threads: int = setting(
        1,
        "ONNX Runtime threads of one OCR recognition (`0`: every core); one keeps a core free for searches",
        section=EXTRACTION,
        ge=0,
    )
    ocr_render_dpi: int = setting(
        200, "resolution PDF pages are rendered at for OCR", section=EXTRACTION, ge=72, le=600
    )
    ocr_max_pages: int = setting(
        100, "pages of one document read by OCR; the rest are left out", section=EXTRACTION, ge=0
    )
    indexing_max_segmentation_tokens_length: int = setting(
        4000, "largest chunk length (characters, as Dify counts them)", section=EXTRACTION
    )

    api_concurrency: int = setting(
        24,
        "requests each API process works on at once; the others wait their turn (each one worked on "
        "holds a thread and a database connection; the connection pool has this many and 10 more)",
        section=LIMITS,
        ge=1,
        le=1000,
    )
    upload_file_size_limit: int = setting(15, "largest upload, in MB", section=LIMITS)
    upload_file_batch_limit: int = setting(5, "files per upload batch", section=LIMITS)
    archive_max_expanded_mb: int = setting(
        100,
        "an archive-based upload (docx, xlsx, pptx, epub) whose members inflate past this in all "
        "fails as a ZIP bomb",
        section=LIMITS,
        ge=1,
    )
    archive_max_member_mb: int = setting(100, "the same for one member", section=LIMITS, ge=1)
    archive_max_members: int = setting(10_000, "the same for the number of members", section=LIMITS, ge=1)
    archive_max_ratio: int = setting(
        200,
        "the same for a member (past 1 MB) inflating more than this many times its compressed size",
        section=LIMITS,
        ge=1,
    )
    json_body_limit_mb: int = setting(
        20,
        "largest JSON request body (create-by-text carries whole documents); larger ones are refused "
        "with 413 while they stream in",
        section=LIMITS,
    )
    top_k_max_value: int = setting(10, "largest `top_k` a retrieval may ask for", section=LIMITS)
    dataset_max_segments_per_request: int = setting(
        0, "most segments one create-segments request may add; `0` means no limit", section=LIMITS
    )
    knowledge_rate_limit_enabled: bool = setting(
        True,
        'count knowledge requests per workspace (see the API reference, "Rate limits")',
        section=LIMITS,
    )
    knowledge_rate_limit_sandbox: int = setting(
        10, "knowledge requests a sandbox workspace may make in any 60 seconds", section=LIMITS
    )
    knowledge_rate_limit_professional: int = setting(
        100, "the same for professional workspaces", section=LIMITS
    )
    knowledge_rate_limit_team: int = setting(1000, "the same for team workspaces", section=LIMITS)
    outbound_allowed_hosts: str = setting(
        "",
        "comma-separated hosts that URLs from requests (crawl targets, data-source base URLs, "
        "sitemaps) may reach although they resolve to private or loopback addresses (e.g. a "
        "self-hosted Firecrawl inside the network)",
        section=LIMITS,
    )
    crawl_poll_interval: float = setting(
        2.0, "seconds between polls of a Firecrawl crawl job", section=LIMITS
    )
    crawl_max_requests: int = setting(
        5000,
        "most requests one job reading an online source (crawl, Notion import) sends to its "
        "provider; past it the job fails",
        section=LIMITS,
        ge=1,
    )
    crawl_timeout_seconds: int = setting(
        3600, "longest one such job may run before it fails", section=LIMITS, ge=1
    )

    kb_worker_concurrency: int = setting(
        1,
        "indexing tasks a worker process runs at once, on threads (embedded worker and `kb worker`). "
        "Each run already takes the waiting documents of its dataset (for up to a minute) and embeds them "
        "in shared batches; more threads only contend for the GIL on CPU-bound embedding, so raise it "
        "only for remote (HTTP) embedding providers",
        section=OPERATIONS,
    )
    kb_access_log: bool = setting(
        False,
        "log one line per request (logger `kb.access`: method, path, status, route template, "
        "milliseconds, with the request id); off by default because a line costs about 0.4 ms of the "
        "API process's CPU, 6 % of a cheap request",
        section=OPERATIONS,
    )
    log_format: Literal["text", "json"] = setting(
        "text",
        "`json`: one JSON object per line on standard error (see docs/operations.md), for every "
        "process (`kb serve` and its API processes, `kb worker`)",
        section=OPERATIONS,
    )
    log_level: str = setting(
        "INFO", "the lowest level logged (DEBUG, INFO, WARNING, ERROR)", section=OPERATIONS
    )
    indexing_retries: int = setting(
        5,
        "how many times an indexing run that failed on a dependency (the database, the engine, the "
        "model processes, a hosted model API still unreachable or overloaded after its own retries) is "
        "run again before its document fails; the document waits meanwhile, its previous version "
        "searchable",
        section=OPERATIONS,
        ge=0,
        le=20,
    )
    indexing_retry_seconds: float = setting(
        10.0,
        "the first wait before such a retry; each next one waits four times longer (10 s, 40 s, 160 s, ...)",
        section=OPERATIONS,
        gt=0,
        le=3600,
    )
    score_calibration_file: Path | None = setting(
        None,
        "JSON file of score curves fitted for embedding models (`{model: {vector: [slope, intercept], "
        "keyword: [...], hybrid: [...]}}`, see docs/guide.md); the shipped curves otherwise",
        section=MODELS,
    )
    full_text_document_weight: float = setting(
        0.7,
        "share of a chunk's full-text (BM25) score that comes from its whole document; `0` scores "
        "each chunk alone",
        section=OPERATIONS,
        ge=0,
        le=1,
    )
    onnx_query_encoder: bool = setting(
        True,
        "embed queries of the local model with ONNX Runtime (exported from the model's weights at the "
        "first start, checked against torch at every start); `false` keeps them on torch",
        section=MODELS,
    )
    onnx_query_int8: bool = setting(
        True,
        "with the ONNX query encoder, use its int8 graph (weights quantized per output column, made at "
        "the first start and checked against torch at every start): about 2.5 times faster a query here, "
        "its vectors at a cosine of 0.99 with the exact ones, nDCG@10 on SciFact within 0.004; "
        "`false` runs the exact graph. Documents are always embedded exactly",
        section=MODELS,
    )
    model_cache_dir: Path | None = setting(
        None,
        "where files made from the models are kept (the ONNX query graphs, about 150 MB a model: the exact "
        "graph and its int8 copy)",
        section=MODELS,
        shown="`models/` in the data directory",
    )
    query_embedding_cache_size: int = setting(
        4096,
        "query embeddings kept per process (the most recent, by model and text); `0` embeds every query",
        section=OPERATIONS,
        ge=0,
    )
    secret_key: str | None = setting(
        None,
        "signs download links; set the same value on every API host",
        section=OPERATIONS,
        shown="random, kept in `KB_DATA_DIR/secret_key`",
    )
    files_url: str | None = setting(
        None,
        "public base URL put in download links and in the MCP server's links to segments",
        section=OPERATIONS,
        shown="the URL the request came to",
    )
    files_access_timeout: int = setting(300, "seconds a download link stays valid", section=OPERATIONS)
    ui_session_hours: int = setting(12, "how long an admin UI sign-in lasts", section=OPERATIONS, ge=1)

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
    def models_dir(self) -> Path:
        return (self.model_cache_dir or self.data_dir / "models").resolve()

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
