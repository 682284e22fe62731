"""Query embeddings are cached per model: a repeated query is embedded once."""

import numpy as np
import pytest

from core.search.legs import QueryVectorCache
from core.settings import get_settings


@pytest.fixture(autouse=True)
def fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


class CountingEmbedder:
    """Stands in for the model (not for the code under test): counts what it is asked to embed."""

    dimension = 2

    def __init__(self):
        self.queries: list[str] = []

    def embed_query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        return np.array([len(text), 1.0], dtype=np.float32)


def test_a_repeated_query_is_embedded_once_per_model():
    cache, first, second = QueryVectorCache(), CountingEmbedder(), CountingEmbedder()
    vectors = [cache.get(first, "what powers the cell") for _ in range(3)]
    assert first.queries == ["what powers the cell"] and all(v is vectors[0] for v in vectors)
    assert not vectors[0].flags.writeable  # shared between searches, so nobody may change it
    cache.get(second, "what powers the cell")
    assert second.queries == ["what powers the cell"]


def test_the_least_recent_query_leaves_first(monkeypatch):
    monkeypatch.setenv("QUERY_EMBEDDING_CACHE_SIZE", "2")
    get_settings.cache_clear()
    cache, embedder = QueryVectorCache(), CountingEmbedder()
    for query in ["a", "b", "a", "c", "a", "b"]:  # "b" left when "c" came in, "a" was used since
        cache.get(embedder, query)
    assert embedder.queries == ["a", "b", "c", "b"]
    monkeypatch.setenv("QUERY_EMBEDDING_CACHE_SIZE", "0")
    get_settings.cache_clear()
    cache.get(embedder, "d")
    cache.get(embedder, "d")
    assert embedder.queries[-2:] == ["d", "d"]
