"""How long each stage of one search took, measured by the search itself."""

import time
from contextlib import contextmanager
from dataclasses import dataclass

from core import tracing


@dataclass
class SearchTimings:
    """Milliseconds spent in each stage of one search."""

    query_embedding: float = 0.0
    vector_search: float = 0.0
    keyword_search: float = 0.0
    fusion: float = 0.0
    rerank: float = 0.0
    total: float = 0.0

    @contextmanager
    def measure(self, stage: str):
        started = time.perf_counter()
        try:
            with tracing.span(f"search.{stage}"):
                yield
        finally:
            setattr(self, stage, getattr(self, stage) + (time.perf_counter() - started) * 1000)

    def as_dict(self) -> dict[str, float]:
        return {stage: round(value, 2) for stage, value in vars(self).items()}
