"""The process-wide vector store and the embedders, built once from the settings."""

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

from core import model_providers
from core.errors import InvalidParam
from core.settings import get_settings
from retrieval.batching import BatchingEmbedder
from retrieval.edge_store import EdgeVectorStore
from retrieval.embedders import (
    Embedder,
    OpenAICompatibleEmbedder,
    ProcessPoolEmbedder,
    SentenceTransformerEmbedder,
    bundled_minilm_path,
)
from retrieval.onnx_encoder import load_query_encoder
from retrieval.rerankers import CrossEncoderReranker, HttpReranker, Reranker
from retrieval.vector_store import QdrantVectorStore, VectorStore

logger = logging.getLogger(__name__)

# A dataset's term collections (`core.index.keyword_index`): its texts, its documents, and the
# statistics their weights were computed with.
TEXTS, DOCUMENTS, STATISTICS = "texts", "documents", "statistics"

_stores: dict[tuple[str | None, str], VectorStore] = {}
_store_keys: dict[tuple, tuple[str | None, str]] = {}  # settings as given -> their store's key
_stores_lock = threading.Lock()
_built_embedders: list[BatchingEmbedder] = []  # the local ones, whose model processes close stops


def term_collections(dataset_id: str) -> dict[str, str]:
    base = dataset_id.replace("-", "")
    return {
        TEXTS: f"kb_{base}_terms",
        DOCUMENTS: f"kb_{base}_document_terms",
        STATISTICS: f"kb_{base}_term_statistics",
    }


def get_vector_store() -> VectorStore:
    """A Qdrant server when QDRANT_URL is set, else Qdrant Edge on disk in this process."""
    settings = get_settings()
    configured = (settings.qdrant_url, settings.qdrant_path, settings.data_dir, os.getcwd())
    with _stores_lock:
        key = _store_keys.get(configured)
        if key is None:  # resolving the path reads the file system: once, not at every search
            key = _store_keys[configured] = (settings.qdrant_url, str(settings.resolved_qdrant_path))
        if key not in _stores:
            _stores[key] = _connect(settings)
        return _stores[key]


def _connect(settings) -> VectorStore:
    if settings.qdrant_url:
        return QdrantVectorStore.connect(
            settings.qdrant_url,
            settings.qdrant_api_key,
            shard_number=settings.qdrant_shard_number,
            replication_factor=settings.qdrant_replication_factor,
        )
    return EdgeVectorStore(settings.resolved_qdrant_path, search_threads=settings.engine_search_threads)


def close_vector_stores() -> None:
    """The embedded engine locks its directory until it closes (tests switch directories)."""
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
        _store_keys.clear()


def close_embedders() -> None:
    """Stops the local model processes (and forgets every built embedder)."""
    for embedder in _built_embedders:
        embedder.close()
    _built_embedders.clear()
    _build_embedder.cache_clear()


def collection_name(dataset_id: str, generation: int = 1) -> str:
    return f"kb_{dataset_id.replace('-', '')}_{generation}"


def get_embedder(provider: str | None, model: str | None) -> Embedder:
    """The embedder of a model a dataset names (None: the dataset names none, so none is configured)."""
    settings = get_settings()
    if (
        provider is None
        or model is None
        or not model_providers.is_available(settings, model_providers.TEXT_EMBEDDING, provider, model)
    ):
        raise InvalidParam(f"Embedding model {provider}/{model} is not configured on this server.")
    return _build_embedder(
        model_providers.provider_short_name(model_providers.normalize_provider(provider)),
        model,
        str(settings.embedding_model_path or bundled_minilm_path()),
        settings.embedding_api_base_url,
        settings.embedding_api_key,
        settings.embedding_batch_size,
        settings.embedding_processes,
        str(settings.models_dir) if settings.onnx_query_encoder else None,
        settings.onnx_query_int8,
    )


def warm_up_default_embedder() -> None:
    """Builds the configured embedder before serving, so the first document or query does not wait
    for the model to load (seconds for a local model). A failure is logged, not fatal: datasets on
    other models and the rest of the API keep working, and the error returns where the model is used."""
    settings = get_settings()
    try:
        get_embedder(settings.embedding_provider, settings.embedding_model)
    except Exception:  # noqa: BLE001 - reported, and raised again at first use
        logger.exception("the embedding model %s could not be loaded", settings.embedding_model)


def model_process_layout(requested_processes: int, cores: int) -> tuple[int, int]:
    """(processes, threads each) for the local model: by default a single-threaded process per core,
    at most four (beyond that, more threads per process use the cores with less memory)."""
    processes = requested_processes or min(cores, 4)
    return processes, max(1, cores // processes)


@lru_cache(maxsize=8)
def _build_embedder(
    provider: str,
    model: str,
    model_path: str,
    api_base_url: str | None,
    api_key: str | None,
    batch_size: int,
    processes: int,
    query_graphs: str | None,
    int8_queries: bool,
) -> Embedder:
    """`query_graphs`: where the local model's ONNX query graphs are cached (None: queries on torch);
    `int8_queries`: queries on the int8 graph made from the exact one."""
    if provider == "sentence_transformers":
        processes, threads = model_process_layout(processes, len(os.sched_getaffinity(0)))
        local: Embedder
        if processes == 1:
            local = SentenceTransformerEmbedder(model, Path(model_path), batch_size=batch_size)
        else:
            local = ProcessPoolEmbedder(
                model, Path(model_path), processes=processes, threads=threads, batch_size=batch_size
            )
        queries = None
        if query_graphs:
            queries = load_query_encoder(
                Path(model_path), Path(query_graphs), local.embed_query, quantized=int8_queries
            )
        _built_embedders.append(BatchingEmbedder(local, query_encoder=queries))
        return _built_embedders[-1]
    if provider == "openai_api_compatible":
        if not api_base_url:
            raise InvalidParam("EMBEDDING_API_BASE_URL is required for the openai_api_compatible provider.")
        return BatchingEmbedder(OpenAICompatibleEmbedder(model, api_base_url, api_key, batch_size=batch_size))
    raise InvalidParam(f"Unknown embedding provider: {provider}")


def get_reranker(provider: str, model: str) -> Reranker:
    settings = get_settings()
    if not model_providers.is_available(settings, model_providers.RERANK, provider, model):
        raise InvalidParam(f"Rerank model {provider}/{model} is not configured on this server.")
    short = model_providers.provider_short_name(model_providers.normalize_provider(provider))
    return _build_reranker(
        short,
        model,
        str(settings.rerank_model_path) if settings.rerank_model_path else None,
        settings.rerank_api_base_url,
        settings.rerank_api_key,
    )


@lru_cache(maxsize=4)
def _build_reranker(
    provider: str, model: str, model_path: str | None, api_base_url: str | None, api_key: str | None
) -> Reranker:
    if provider == "sentence_transformers":
        if not model_path:
            raise InvalidParam("RERANK_MODEL_PATH is required for the local sentence_transformers reranker.")
        return CrossEncoderReranker(model, Path(model_path))
    if not api_base_url:
        raise InvalidParam("RERANK_API_BASE_URL is required for an HTTP rerank provider.")
    return HttpReranker(model, api_base_url, api_key)
