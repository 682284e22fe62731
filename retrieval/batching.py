"""Dynamic batching: concurrent `embed_documents` calls are merged into one model call.

Indexing tasks run on several worker threads, each embedding a few chunks of one document. A model
call per document pays per-call overhead and pads to the longest of a handful of texts; merging
whatever is queued while the model is busy gives large batches (sorted by length inside the model
call) under load and no added latency when idle.
"""

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.embedders import Embedder


@dataclass
class _Request:
    texts: Sequence[str]
    done: threading.Event = field(default_factory=threading.Event)
    vectors: np.ndarray | None = None
    error: BaseException | None = None


class BatchingEmbedder:
    def __init__(self, inner: Embedder, max_batch: int = 64):
        self.inner = inner
        self.model_name = inner.model_name
        self.max_batch = max_batch
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="embedding-batcher", daemon=True)
        self._thread.start()

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return self.inner.embed_documents(texts)
        request = _Request(texts)
        self._queue.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.vectors

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)

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
            vectors = self.inner.embed_documents(texts)
        except BaseException as error:  # noqa: BLE001 - handed to every waiting caller
            for request in batch:
                request.error = error
                request.done.set()
            return
        start = 0
        for request in batch:
            request.vectors = vectors[start : start + len(request.texts)]
            start += len(request.texts)
            request.done.set()
