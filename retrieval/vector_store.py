"""Vectors in Qdrant: a server through `url`, or local mode on disk (one process at a time).

Point ids derive from our own ids (uuid5), so writing the same chunk twice overwrites, never duplicates.
"""

import threading
import uuid
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qdrant_client import QdrantClient, models

POINT_NAMESPACE = uuid.UUID("6f1c1d9e-7a61-4d1b-9c62-0c2b3c1f9a10")
UPSERT_BATCH = 256
KEYWORD_PAYLOAD_FIELDS = ("workspace_id", "dataset_id", "document_id", "segment_id")


@dataclass(frozen=True)
class VectorPoint:
    key: str  # our id of the embedded text (segment or child chunk)
    vector: np.ndarray
    payload: dict


@dataclass(frozen=True)
class VectorHit:
    key: str
    score: float
    payload: dict


def point_id(key: str) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, key))


class QdrantVectorStore:
    def __init__(self, client: QdrantClient, *, local: bool = False):
        # Local mode is an in-process implementation that is not safe to call from several threads,
        # and has no payload indexes (it filters by scanning).
        self._local = local
        self._client = _LockedClient(client, threading.RLock() if local else nullcontext())

    @classmethod
    def connect(cls, url: str | None, api_key: str | None, path: Path) -> "QdrantVectorStore":
        if url:
            return cls(QdrantClient(url=url, api_key=api_key, timeout=60))
        path.mkdir(parents=True, exist_ok=True)
        store = cls(QdrantClient(path=str(path)), local=True)
        store._tune_local_storage()
        return store

    def close(self) -> None:
        self._client.close()

    def ensure_collection(self, name: str, dimension: int) -> None:
        if self._client.collection_exists(name):
            return
        self._client.create_collection(
            name, vectors_config=models.VectorParams(size=dimension, distance=models.Distance.COSINE)
        )
        if self._local:
            self._tune_local_storage()
        else:
            for field in KEYWORD_PAYLOAD_FIELDS:
                self._client.create_payload_index(name, field, models.PayloadSchemaType.KEYWORD)

    def _tune_local_storage(self) -> None:
        """Local mode keeps each collection in an SQLite file and commits once per point; in its default
        rollback-journal mode every commit syncs to disk, which made writing vectors the slowest step of
        indexing (0.8 ms a point, 0.1 ms in WAL). WAL with synchronous=NORMAL, as our own SQLite database
        runs, survives a crash of the process; a power cut may lose the last commits, which re-indexing
        the document restores."""
        with self._client.lock:
            collections = getattr(getattr(self._client.raw, "_client", None), "collections", {})
            for collection in collections.values():
                connection = getattr(getattr(collection, "storage", None), "storage", None)
                if connection is not None:
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.execute("PRAGMA synchronous=NORMAL")

    def collection_names(self) -> list[str]:
        return [collection.name for collection in self._client.get_collections().collections]

    def drop_collection(self, name: str) -> None:
        if self._client.collection_exists(name):
            self._client.delete_collection(name)

    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
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
            self._client.delete(name, points_selector=models.PointIdsList(points=ids), wait=True)

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
        if not self._client.collection_exists(name):
            return set()
        found: set[str] = set()
        offset = None
        while True:
            points, offset = self._client.scroll(
                name, scroll_filter=match_all(**equals) if equals else None, limit=1024, offset=offset,
                with_payload=[field], with_vectors=False,
            )  # fmt: skip
            found.update(point.payload[field] for point in points if field in point.payload)
            if offset is None:
                return found

    def vectors(self, name: str, keys: list[str]) -> dict[str, np.ndarray]:
        if not keys or not self._client.collection_exists(name):
            return {}
        points = self._client.retrieve(name, ids=[point_id(key) for key in keys], with_payload=["key"],
                                       with_vectors=True)  # fmt: skip
        return {point.payload["key"]: np.asarray(point.vector, dtype=np.float32) for point in points}

    def search(
        self, name: str, vector: np.ndarray, limit: int, query_filter: models.Filter | None = None
    ) -> list[VectorHit]:
        if not self._client.collection_exists(name):
            return []
        response = self._client.query_points(
            name, query=vector.tolist(), query_filter=query_filter, limit=limit, with_payload=True
        )
        return [
            VectorHit(point.payload["key"], float(point.score), point.payload) for point in response.points
        ]


def match_all(**equals: str) -> models.Filter:
    return models.Filter(
        must=[
            models.FieldCondition(key=key, match=models.MatchValue(value=value))
            for key, value in equals.items()
        ]
    )


class _LockedClient:
    """Forwards every client call under the store's lock."""

    def __init__(self, client: QdrantClient, lock):
        self._client = client
        self.raw = client
        self.lock = lock

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def locked(*args, **kwargs):
            with self.lock:
                return attribute(*args, **kwargs)

        return locked
