"""Rerank providers: a local sentence-transformers CrossEncoder loaded from a directory, and the common
HTTP shape `POST {base}/rerank {model, query, documents, top_n}` (Cohere, Jina, Xinference, TEI).
Scores are relevance in 0..1."""

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from retrieval.http_client import ApiError, JsonApi, bearer


class Reranker(Protocol):
    model_name: str

    def score(self, query: str, documents: Sequence[str]) -> list[float]: ...


class CrossEncoderReranker:
    def __init__(self, model_name: str, model_path: Path, batch_size: int = 16):
        import torch
        from sentence_transformers import CrossEncoder

        self.model_name = model_name
        self.batch_size = batch_size
        # A sigmoid maps single-logit relevance models into 0..1.
        self._model = CrossEncoder(str(model_path), device="cpu", local_files_only=True,
                                   activation_fn=torch.nn.Sigmoid())  # fmt: skip
        self._lock = threading.Lock()

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        if not documents:
            return []
        with self._lock:
            scores = self._model.predict(
                [(query, document) for document in documents], batch_size=self.batch_size
            )
        return [float(score) for score in scores]


class HttpReranker:
    def __init__(self, model_name: str, base_url: str, api_key: str | None = None, *, timeout: float = 60.0,
                 max_attempts: int = 4, backoff_seconds: float = 0.5):  # fmt: skip
        self.model_name = model_name
        self._api = JsonApi(
            "Rerank",
            base_url,
            bearer(api_key),
            timeout=timeout,
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
        )

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        if not documents:
            return []
        body = {
            "model": self.model_name,
            "query": query,
            "documents": list(documents),
            "top_n": len(documents),
        }
        payload = self._api.request("POST", "/rerank", body)
        scores = [0.0] * len(documents)
        try:
            for item in payload["results"]:
                scores[item["index"]] = float(item.get("relevance_score", item.get("score")))
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise ApiError(f"Rerank API answered an unexpected body: {error}") from error
        return scores
