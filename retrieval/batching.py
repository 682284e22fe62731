"""Dynamic batching: concurrent embedding requests are merged into one model call.

Indexing hands texts to one embedding thread and carries on while they are encoded (it writes the
previous batch meanwhile), so the model never waits for the database. Requests queued while the
model is busy are merged, which gives full batches (sorted by length inside the model call) under
load and no added latency when idle.
"""

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from retrieval.embedders import Embedded, Embedder


@dataclass
class _Request:
    texts: Sequence[str]
    result: Future[Any] = field(default_factory=Future)


class QueryEncoder(Protocol):
    def embed_query(self, text: str) -> np.ndarray: ...


class BatchingEmbedder:
    """The embedder the service uses: documents batched onto `inner`, queries straight to it, or to
    `query_encoder` when there is one (a faster runtime of the same model)."""

    def __init__(self, inner: Embedder, max_batch: int = 64, query_encoder: QueryEncoder | None = None):
        self.inner = inner
        self.query_encoder = query_encoder
        self.model_name = inner.model_name
        self.max_batch = max_batch
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="embedding-batcher", daemon=True)
        self._thread.start()

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def submit(self, texts: Sequence[str]) -> "Future[Embedded]":
        """Vectors and token counts of `texts`, computed on the embedding thread."""
        if not texts:
            return _done(Embedded(self.inner.embed_documents([]), []))
        request = _Request(list(texts))
        self._queue.put(request)
        return request.result

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.submit(texts).result().vectors

    def embed_query(self, text: str) -> np.ndarray:
        return (self.query_encoder or self.inner).embed_query(text)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def _serve(self) -> None:
        while True:
            batch = [self._queue.get()]
            size = len(batch[0].texts)
            while size < self.max_batch:
                try:
                    request = self._queue.get_nowait()
                except queue.Empty:
                    break
                batch.append(request)
                size += len(request.texts)
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        texts = [text for request in batch for text in request.texts]
        try:
            embedded = self._start(texts)
        except BaseException as error:  # noqa: BLE001 - handed to every waiting caller
            embedded = Future()
            embedded.set_exception(error)
        embedded.add_done_callback(lambda done: _hand_out(batch, done))

    def _start(self, texts: list[str]) -> "Future[Embedded]":
        """A model that takes texts without waiting for earlier ones (the model processes) is fed at
        once, so this thread goes on to the next request; any other is called and waited for."""
        submit = getattr(self.inner, "submit", None)
        if submit is not None:
            started: Future[Embedded] = submit(texts)
            return started
        return _done(Embedded(self.inner.embed_documents(texts), self.inner.count_tokens(texts)))


def _hand_out(batch: list[_Request], embedded: "Future[Embedded]") -> None:
    error = embedded.exception()
    if error is not None:
        for request in batch:
            request.result.set_exception(error)
        return
    whole, start = embedded.result(), 0
    for request in batch:
        end = start + len(request.texts)
        request.result.set_result(Embedded(whole.vectors[start:end], whole.tokens[start:end]))
        start = end


def submit_embedding(embedder: Embedder, texts: Sequence[str]) -> "Future[Embedded]":
    """Starts embedding on the batching thread when there is one; otherwise embeds right away."""
    if isinstance(embedder, BatchingEmbedder):
        return embedder.submit(texts)
    if not texts:
        return _done(Embedded(embedder.embed_documents([]), []))
    return _done(Embedded(embedder.embed_documents(texts), embedder.count_tokens(texts)))


def _done(embedded: Embedded) -> "Future[Embedded]":
    future: Future[Any] = Future()
    future.set_result(embedded)
    return future
