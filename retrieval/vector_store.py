"""Vectors in a Qdrant server through qdrant-client, and what every vector store shares: points keyed
by our own ids, hits, and the store interface that the embedded engine (`retrieval.edge_store`)
implements the same way.

A store holds two kinds of collection: dense vectors (the embeddings), and term collections whose
points carry BM25 sparse vectors (`retrieval.bm25`) scored with the engine's IDF modifier, plus their
terms and their counts in the payload (to rebuild weights and documents without the texts).

Point ids derive from our own ids (uuid5), so writing the same chunk twice overwrites, never duplicates.
"""

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
from qdrant_client import QdrantClient, models

from retrieval.conditions import Condition, Restriction, fields_to_index

POINT_NAMESPACE = uuid.UUID("6f1c1d9e-7a61-4d1b-9c62-0c2b3c1f9a10")
UPSERT_BATCH = 256
PAYLOAD_INDEX_FIELDS = ("workspace_id", "dataset_id", "document_id", "segment_id")
# The sparse vector's name, and the payload field of a term point's terms: one string, space-separated
# (a list costs some 4 us a string to hand to the engine).
TERMS = "terms"
TERM_KEYWORD_FIELDS = ("document_id", "segment_id")
# What a vector search returns of each hit's payload (not the metadata: filters read it in the engine).
HIT_FIELDS = ["key", "document_id", "segment_id"]
# Searches name the same chunks' points again and again (the candidates one leg found, scored by the
# other): their ids are kept, not derived anew each time.
POINT_ID_CACHE = 16_384


@dataclass(frozen=True)
class VectorPoint:
    key: str  # our id of the embedded text (segment or child chunk)
    vector: np.ndarray
    payload: dict[str, Any]


@dataclass(frozen=True)
class TermPoint:
    key: str
    weights: dict[int, float]  # sparse vector: term dimension -> saturated term frequency
    payload: dict[str, Any]  # with the text's distinct terms, space-separated, under TERMS


@dataclass(frozen=True)
class VectorHit:
    key: str
    score: float
    payload: dict[str, Any]


@lru_cache(maxsize=POINT_ID_CACHE)
def point_id(key: str) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, key))


@lru_cache(maxsize=POINT_ID_CACHE)
def term_point_id(key: str) -> str:
    """In term collections a key that is a UUID (a chunk's or a document's id) is the point id itself,
    so a search returns its keys without reading any payload (about 15 µs a point in Qdrant Edge)."""
    try:
        return str(uuid.UUID(key))
    except ValueError:
        return point_id(key)


class VectorStore(Protocol):
    """One collection per dataset (and embedding model). Searches take a `Restriction` (documents,
    metadata conditions), evaluated by the engine over payload indexes."""

    def ensure_collection(self, name: str, dimension: int) -> None: ...
    def collection_names(self) -> list[str]: ...
    def drop_collection(self, name: str) -> None: ...
    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None: ...
    def delete_keys(self, name: str, keys: Iterable[str]) -> None: ...
    def delete_where(self, name: str, **equals: str) -> None: ...
    def count(self, name: str, **equals: str) -> int: ...
    def keys(self, name: str, **equals: str) -> set[str]: ...
    def payload_values(self, name: str, field: str, **equals: str) -> set[str]: ...
    def vectors(self, name: str, keys: list[str]) -> dict[str, np.ndarray]: ...
    def similarities(self, name: str, vector: np.ndarray, keys: list[str]) -> dict[str, float]: ...
    def search(
        self, name: str, vector: np.ndarray, limit: int, restriction: Restriction | None = None
    ) -> list[VectorHit]: ...
    def set_document_payload(self, name: str, document_id: str, payload: dict[str, Any]) -> None: ...
    def close(self) -> None: ...
    # term collections
    def ensure_term_collection(self, name: str) -> None: ...
    def upsert_terms(self, name: str, points: Sequence[TermPoint]) -> None: ...
    def search_terms(
        self, name: str, weights: dict[int, float], limit: int, *, restriction: Restriction | None = None,
        keys: list[str] | None = None,
    ) -> dict[str, float]: ...  # fmt: skip  # key -> score, best first
    def delete_terms(self, name: str, keys: Iterable[str]) -> None: ...
    def term_idf(self, name: str, dimensions: Iterable[int]) -> dict[int, float]: ...
    def size(self, name: str) -> int: ...  # points, from the engine's own bookkeeping (no filtering pass)
    def payloads(self, name: str, fields: list[str], **equals: str) -> list[dict[str, Any]]: ...
    def records(self, name: str, keys: list[str]) -> dict[str, dict[str, Any]]: ...  # key -> payload


class QdrantVectorStore:
    """A Qdrant server (or cluster): collections are created with the configured shards and replicas."""

    def __init__(
        self, client: QdrantClient, *, shard_number: int | None = None, replication_factor: int | None = None
    ):
        self._client = client
        self._shard_number = shard_number
        self._replication_factor = replication_factor
        self._indexed: dict[str, set[str]] = {}  # payload fields indexed, by collection

    @classmethod
    def connect(cls, url: str, api_key: str | None, **layout: int | None) -> "QdrantVectorStore":
        return cls(QdrantClient(url=url, api_key=api_key, timeout=60), **layout)

    def close(self) -> None:
        self._client.close()

    def ensure_collection(self, name: str, dimension: int) -> None:
        if self._client.collection_exists(name):
            return
        self._client.create_collection(
            name,
            vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE),
            shard_number=self._shard_number,
            replication_factor=self._replication_factor,
        )
        for field in PAYLOAD_INDEX_FIELDS:
            self._client.create_payload_index(name, field, models.PayloadSchemaType.KEYWORD)

    def collection_names(self) -> list[str]:
        return [collection.name for collection in self._client.get_collections().collections]

    def drop_collection(self, name: str) -> None:
        self._indexed.pop(name, None)
        if self._client.collection_exists(name):
            self._client.delete_collection(name)

    def _index_fields(self, name: str, payloads: Iterable[dict[str, Any]]) -> None:
        """Creates the payload index of each metadata field the payloads carry that has none yet."""
        known = self._indexed.get(name)
        if known is None:
            known = self._indexed[name] = set(self._client.get_collection(name).payload_schema)
        for key, kind in fields_to_index(payloads, known).items():
            schema = KEYWORD_WITH_PREFIX if kind == "keyword" else models.PayloadSchemaType.FLOAT
            self._client.create_payload_index(name, key, schema, wait=True)
            known.add(key)

    def set_document_payload(self, name: str, document_id: str, payload: dict[str, Any]) -> None:
        """Replaces these top-level payload fields on every point of the document."""
        if not self._client.collection_exists(name):
            return
        self._index_fields(name, [payload])
        self._client.set_payload(name, payload=payload, points=match_all(document_id=document_id), wait=True)

    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        self._index_fields(name, (p.payload for p in points))
        for start in range(0, len(points), UPSERT_BATCH):
            batch = points[start : start + UPSERT_BATCH]
            self._client.upsert(
                name,
                points=[
                    models.PointStruct(
                        id=point_id(p.key), vector=p.vector.tolist(), payload={**p.payload, "key": p.key}
                    )
                    for p in batch
                ],
                wait=True,
            )

    def delete_keys(self, name: str, keys: Iterable[str]) -> None:
        ids = [point_id(key) for key in keys]
        if ids and self._client.collection_exists(name):
            self._client.delete(
                name, points_selector=models.PointIdsList(points=list[models.ExtendedPointId](ids)), wait=True
            )

    def delete_where(self, name: str, **equals: str) -> None:
        if self._client.collection_exists(name):
            self._client.delete(
                name, points_selector=models.FilterSelector(filter=match_all(**equals)), wait=True
            )

    def count(self, name: str, **equals: str) -> int:
        if not self._client.collection_exists(name):
            return 0
        return self._client.count(
            name, count_filter=match_all(**equals) if equals else None, exact=True
        ).count

    def keys(self, name: str, **equals: str) -> set[str]:
        return self.payload_values(name, "key", **equals)

    def payload_values(self, name: str, field: str, **equals: str) -> set[str]:
        """The distinct values of one payload field over the points matching `equals`."""
        return {payload[field] for payload in self.payloads(name, [field], **equals) if field in payload}

    def payloads(self, name: str, fields: list[str], **equals: str) -> list[dict[str, Any]]:
        if not self._client.collection_exists(name):
            return []
        found: list[dict[str, Any]] = []
        offset = None
        while True:
            points, offset = self._client.scroll(
                name, scroll_filter=match_all(**equals) if equals else None, limit=1024, offset=offset,
                with_payload=fields, with_vectors=False,
            )  # fmt: skip
            found.extend(point.payload or {} for point in points)
            if offset is None:
                return found

    def vectors(self, name: str, keys: list[str]) -> dict[str, np.ndarray]:
        if not keys or not self._client.collection_exists(name):
            return {}
        points = self._client.retrieve(name, ids=[point_id(key) for key in keys], with_payload=["key"],
                                       with_vectors=True)  # fmt: skip
        return {(point.payload or {})["key"]: np.asarray(point.vector, dtype=np.float32) for point in points}

    def similarities(self, name: str, vector: np.ndarray, keys: list[str]) -> dict[str, float]:
        if not keys or not self._client.collection_exists(name):
            return {}
        ids = {point_id(key): key for key in keys}
        response = self._client.query_points(
            name, query=vector.tolist(), limit=len(ids), with_payload=False,
            query_filter=models.Filter(must=[models.HasIdCondition(has_id=list(ids))]),
        )  # fmt: skip
        return {ids[str(point.id)]: float(point.score) for point in response.points}

    def search(
        self, name: str, vector: np.ndarray, limit: int, restriction: Restriction | None = None
    ) -> list[VectorHit]:
        if not self._client.collection_exists(name):
            return []
        response = self._client.query_points(
            name, query=vector.tolist(), query_filter=qdrant_filter(restriction), limit=limit,
            with_payload=HIT_FIELDS,
        )  # fmt: skip
        return [
            VectorHit((point.payload or {})["key"], float(point.score), point.payload or {})
            for point in response.points
        ]

    def ensure_term_collection(self, name: str) -> None:
        if self._client.collection_exists(name):
            return
        self._client.create_collection(
            name,
            vectors_config={},
            sparse_vectors_config={TERMS: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            shard_number=self._shard_number,
            replication_factor=self._replication_factor,
        )
        for field in TERM_KEYWORD_FIELDS:
            self._client.create_payload_index(name, field, models.PayloadSchemaType.KEYWORD)

    def upsert_terms(self, name: str, points: Sequence[TermPoint]) -> None:
        self._index_fields(name, (p.payload for p in points))
        for start in range(0, len(points), UPSERT_BATCH):
            batch = [
                models.PointStruct(id=term_point_id(p.key), vector=_term_vectors(p.weights),
                                   payload={**p.payload, "key": p.key})
                for p in points[start : start + UPSERT_BATCH]
            ]  # fmt: skip
            self._client.upsert(name, points=batch, wait=True)

    def delete_terms(self, name: str, keys: Iterable[str]) -> None:
        ids = [term_point_id(key) for key in keys]
        if ids and self._client.collection_exists(name):
            self._client.delete(
                name, points_selector=models.PointIdsList(points=list[models.ExtendedPointId](ids)), wait=True
            )

    def search_terms(
        self, name: str, weights: dict[int, float], limit: int, *, restriction: Restriction | None = None,
        keys: list[str] | None = None,
    ) -> dict[str, float]:  # fmt: skip
        if not weights or not self._client.collection_exists(name):
            return {}
        ids = None if keys is None else [models.HasIdCondition(has_id=[term_point_id(key) for key in keys])]
        response = self._client.query_points(
            name, query=_sparse(weights), using=TERMS, limit=limit, with_payload=False,
            query_filter=qdrant_filter(restriction, ids),
        )  # fmt: skip
        return {str(point.id): float(point.score) for point in response.points}

    def records(self, name: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        if not keys or not self._client.collection_exists(name):
            return {}
        points = self._client.retrieve(name, ids=[term_point_id(key) for key in keys], with_payload=True)
        return {(point.payload or {})["key"]: point.payload or {} for point in points}

    def size(self, name: str) -> int:
        if not self._client.collection_exists(name):
            return 0
        return self._client.count(name, exact=False).count

    def term_idf(self, name: str, dimensions: Iterable[int]) -> dict[int, float]:
        """The idf the engine gives each term dimension now, read off one scored point per term in
        one batch (the score of a one-term query is that idf times the point's weight)."""
        dimensions = list(dict.fromkeys(dimensions))
        if not dimensions or not self._client.collection_exists(name):
            return {}
        requests = [
            models.QueryRequest(query=_sparse({dimension: 1.0}), using=TERMS, limit=1, with_vector=[TERMS])
            for dimension in dimensions
        ]
        answers = self._client.query_batch_points(name, requests=requests)
        return {dimension: idf_of_term_point(dimension, answer.points[0])
                for dimension, answer in zip(dimensions, answers, strict=True) if answer.points}  # fmt: skip


def idf_of_term_point(dimension: int, point: Any) -> float:
    """The idf the engine gave a term, read off a point it scored (with its vector) for that term
    alone: both stores' `term_idf` ask for one such point per term."""
    vector = point.vector[TERMS]
    return float(point.score / dict(zip(vector.indices, vector.values, strict=True))[dimension])


def _sparse(weights: dict[int, float]) -> models.SparseVector:
    return models.SparseVector(indices=list(weights), values=list(weights.values()))


def _term_vectors(weights: dict[int, float]) -> dict[str, Any]:
    """A point without terms has no vector at all (an empty one would not count in the idf either)."""
    return {TERMS: _sparse(weights)} if weights else {}


# Metadata keywords are also matched by prefix and substring (`start with`, `contains`).
KEYWORD_WITH_PREFIX = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, prefix=True)


def qdrant_filter(restriction: Restriction | None, extra: list[Any] | None = None) -> models.Filter | None:
    """The restriction (and `extra` conditions, all required) as qdrant-client's filter."""
    if restriction is None and not extra:
        return None
    return _qdrant_filter(restriction or Restriction(), extra or [])


def _qdrant_filter(node: Restriction, extra: list[Any]) -> models.Filter:
    return models.Filter(
        must=[*map(_qdrant_node, node.must), *extra] or None,
        should=[_qdrant_node(n) for n in node.should] or None,
        must_not=[_qdrant_node(n) for n in node.must_not] or None,
    )


def _qdrant_node(node: Condition | Restriction) -> Any:
    if isinstance(node, Restriction):
        return _qdrant_filter(node, [])
    if node.kind == "empty":
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=node.key))
    if node.kind == "range":
        return models.FieldCondition(key=node.key, range=models.Range(**node.bounds))
    makers: dict[str, Callable[[], Any]] = {
        "any": lambda: models.MatchAny(any=list(node.values)),
        "substring": lambda: models.MatchSubstring(substring=node.text),
        "prefix": lambda: models.MatchPrefix(prefix=node.text),
    }
    match = makers[node.kind]()
    return models.FieldCondition(key=node.key, match=match)


def match_all(**equals: str) -> models.Filter:
    return models.Filter(
        must=[
            models.FieldCondition(key=key, match=models.MatchValue(value=value))
            for key, value in equals.items()
        ]
    )
