"""Vectors in Qdrant Edge: Qdrant's own engine in-process (HNSW, payload indexes, filtered search in
Rust), one shard directory per collection. A shard's directory is opened by one process at a time
(its write-ahead log is locked), which is why the embedded mode keeps its worker in the API process.

Edge runs no optimizer by itself: new points sit in a plain segment that is searched exhaustively
(about 2 ms at 25,000 vectors of 384 dimensions here), and once enough of them pile up a background
thread builds their HNSW index while searches go on.
"""

import logging
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import qdrant_edge as edge

from retrieval.vector_store import PAYLOAD_INDEX_FIELDS, UPSERT_BATCH, VectorHit, VectorPoint, point_id

logger = logging.getLogger(__name__)

# Points not yet in an HNSW graph before a background optimisation is started.
UNINDEXED_POINTS_BEFORE_OPTIMIZE = 20_000
SCROLL_PAGE = 1024


class EdgeVectorStore:
    def __init__(self, path: Path, *, optimize_after: int = UNINDEXED_POINTS_BEFORE_OPTIMIZE):
        self._path = path
        self._optimize_after = optimize_after
        self._shards: dict[str, edge.EdgeShard] = {}
        self._optimizing: dict[str, threading.Thread] = {}
        self._lock = threading.RLock()  # opening, dropping and closing shards; the shards lock themselves
        path.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        self.wait_for_optimizations()
        with self._lock:
            for shard in self._shards.values():
                shard.close()
            self._shards.clear()

    def _shard(self, name: str) -> edge.EdgeShard | None:
        with self._lock:
            shard = self._shards.get(name)
            if shard is None and (self._path / name).is_dir():
                shard = self._shards[name] = edge.EdgeShard.load(str(self._path / name))
            return shard

    def ensure_collection(self, name: str, dimension: int) -> None:
        with self._lock:
            if self._shard(name) is not None:
                return
            config = edge.EdgeConfig(
                vectors=edge.EdgeVectorParams(size=dimension, distance=edge.Distance.Cosine)
            )
            shard = edge.EdgeShard.create(str(self._path / name), config)
            for field in PAYLOAD_INDEX_FIELDS:
                shard.update(edge.UpdateOperation.create_field_index(field, edge.PayloadSchemaType.Keyword))
            self._shards[name] = shard

    def collection_names(self) -> list[str]:
        return sorted(entry.name for entry in self._path.iterdir() if entry.is_dir())

    def drop_collection(self, name: str) -> None:
        with self._lock:
            building = self._optimizing.get(name)
        if building is not None:
            building.join()  # closing a shard under its optimiser would leave half-written segments
        with self._lock:
            shard = self._shards.pop(name, None)
            if shard is not None:
                shard.close()
            shutil.rmtree(self._path / name, ignore_errors=True)

    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        shard = self._shard(name)
        if shard is None:
            raise LookupError(f"collection {name} does not exist")
        for start in range(0, len(points), UPSERT_BATCH):
            batch = [
                edge.Point(point_id(p.key), p.vector.tolist(), {**p.payload, "key": p.key})
                for p in points[start : start + UPSERT_BATCH]
            ]
            shard.update(edge.UpdateOperation.upsert_points(batch))
        self._optimize_when_due(name, shard)

    def delete_keys(self, name: str, keys: Iterable[str]) -> None:
        ids = [point_id(key) for key in keys]
        shard = self._shard(name)
        if ids and shard is not None:
            shard.update(edge.UpdateOperation.delete_points(ids))

    def delete_where(self, name: str, **equals: str) -> None:
        shard = self._shard(name)
        if shard is not None:
            shard.update(edge.UpdateOperation.delete_points_by_filter(_match_all(**equals)))

    def count(self, name: str, **equals: str) -> int:
        shard = self._shard(name)
        if shard is None:
            return 0
        return shard.count(edge.CountRequest(exact=True, filter=_match_all(**equals)))

    def keys(self, name: str, **equals: str) -> set[str]:
        return self.payload_values(name, "key", **equals)

    def payload_values(self, name: str, field: str, **equals: str) -> set[str]:
        shard = self._shard(name)
        found: set[str] = set()
        offset = None
        while shard is not None:
            page = edge.ScrollRequest(
                offset=offset,
                limit=SCROLL_PAGE,
                filter=_match_all(**equals),
                with_payload=[field],
                with_vector=False,
            )
            records, offset = shard.scroll(page)
            found.update(record.payload[field] for record in records if field in (record.payload or {}))
            if offset is None:
                break
        return found

    def vectors(self, name: str, keys: list[str]) -> dict[str, np.ndarray]:
        shard = self._shard(name)
        if not keys or shard is None:
            return {}
        records = shard.retrieve([point_id(key) for key in keys], with_payload=["key"], with_vector=True)
        return {record.payload["key"]: np.asarray(record.vector, dtype=np.float32) for record in records}

    def search(
        self, name: str, vector: np.ndarray, limit: int, document_ids: list[str] | None = None
    ) -> list[VectorHit]:
        shard = self._shard(name)
        if shard is None:
            return []
        restriction = None
        if document_ids is not None:
            restriction = edge.Filter(
                must=[edge.FieldCondition("document_id", match=edge.MatchAny(document_ids))]
            )
        points = shard.query(
            edge.QueryRequest(limit=limit, query=edge.Query.Nearest(vector.tolist()), filter=restriction,
                              with_payload=True)
        )  # fmt: skip
        return [VectorHit(point.payload["key"], float(point.score), point.payload) for point in points]

    def _optimize_when_due(self, name: str, shard: edge.EdgeShard) -> None:
        info = shard.info()
        if info.points_count - info.indexed_vectors_count < self._optimize_after:
            return
        with self._lock:
            if name in self._optimizing:
                return
            thread = threading.Thread(
                target=self._optimize, args=(name, shard), name=f"optimize-{name}", daemon=True
            )
            self._optimizing[name] = thread
        thread.start()

    def _optimize(self, name: str, shard: edge.EdgeShard) -> None:
        try:
            shard.optimize()
        except Exception:  # noqa: BLE001 - a dropped or closed shard; searches stay exact meanwhile
            logger.warning("optimising collection %s stopped", name, exc_info=True)
        finally:
            with self._lock:
                self._optimizing.pop(name, None)

    def wait_for_optimizations(self, timeout: float | None = None) -> None:
        """Returns once the background index builds under way have finished (tests, `kb reindex`)."""
        with self._lock:
            running = list(self._optimizing.values())
        for thread in running:
            thread.join(timeout)


def _match_all(**equals: str) -> edge.Filter | None:
    if not equals:
        return None
    return edge.Filter(
        must=[edge.FieldCondition(key, match=edge.MatchValue(value)) for key, value in equals.items()]
    )
