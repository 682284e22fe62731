"""Vectors in Qdrant Edge: Qdrant's own engine in-process (HNSW, payload indexes, filtered search in
Rust), one shard directory per collection. A shard's directory is opened by one process at a time
(its write-ahead log is locked), which is why the embedded mode keeps its worker in the API process.

Edge runs no optimizer by itself: new points sit in a plain segment that is searched exhaustively
(about 2 ms at 25,000 vectors of 384 dimensions here), and once enough of them pile up a background
thread builds their HNSW index while searches go on. Term collections are optimised the same way:
their new points sit in a mutable in-memory index twice the size of an optimised one.
"""

import json
import logging
import shutil
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import qdrant_edge as edge

from retrieval.conditions import Condition, Restriction, fields_to_index
from retrieval.vector_store import (
    HIT_FIELDS,
    PAYLOAD_INDEX_FIELDS,
    TERM_KEYWORD_FIELDS,
    TERMS,
    UPSERT_BATCH,
    TermPoint,
    VectorHit,
    VectorPoint,
    idf_of_term_point,
    point_id,
    term_point_id,
)

logger = logging.getLogger(__name__)

# Points not yet in an HNSW graph before a background optimisation is started.
UNINDEXED_POINTS_BEFORE_OPTIMIZE = 20_000
STALE_SHARE_BEFORE_OPTIMIZE = 0.1  # of a collection's points: deleted or overwritten vectors
IDF_CACHE_TERMS = 100_000  # per collection; the whole cache of one starts again past it
# When an optimisation runs, it rewrites every segment holding deleted points, however few: that is
# what takes them out of the IDF statistics. When one runs is decided here (`_changed`).
_OPTIMIZERS = edge.EdgeOptimizersConfig(deleted_threshold=0.0, vacuum_min_vector_number=1)
SCROLL_PAGE = 1024
EDGE_CONFIG_FILE = "edge_config.json"  # where a shard keeps its configuration


# Threads of one search (0: Edge's default, every core). Spreading a search over the cores costs more
# than it saves on segments of this size, and takes the core a query is being embedded on.
SEARCH_THREADS = 1


class EdgeVectorStore:
    def __init__(
        self, path: Path, *, optimize_after: int = UNINDEXED_POINTS_BEFORE_OPTIMIZE,
        search_threads: int = SEARCH_THREADS,
    ):  # fmt: skip
        self._path = path
        self._optimize_after = optimize_after
        self._search_threads = search_threads
        self._shards: dict[str, edge.EdgeShard] = {}
        self._optimizing: dict[str, threading.Thread] = {}
        self._deleted: dict[str, int] = {}  # points deleted since the last optimisation
        self._written: dict[str, int] = {}  # points written since the last optimisation
        # Each term's idf by collection, as of the collection's last change (every writer of this
        # directory is this object: one process opens it). A search costs one engine query per term
        # less; the generation keeps an answer computed across a change from being kept.
        self._idf: dict[str, dict[int, float | None]] = {}
        self._generations: dict[str, int] = {}
        self._indexed: dict[str, set[str]] = {}  # payload fields indexed, by collection
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
                dimension = self._persisted_dimension(name)
                config = self._term_config() if dimension is None else self._vector_config(dimension)
                shard = self._shards[name] = edge.EdgeShard.load(str(self._path / name), config)
                info = shard.info()
                if (
                    dimension is None
                    and info.segments_count == 1
                    and info.points_count >= self._optimize_after
                ):
                    # Written before term collections were optimised: every term sits in the
                    # mutable in-memory index, which takes twice the memory of an optimised one.
                    self._start_optimizing(name, shard)
            return shard

    def _persisted_dimension(self, name: str) -> int | None:
        """The collection's dense vector size as created (None: a term collection). A load takes the
        configuration anew: Edge keeps what it leaves unset, but asks for the vectors' description."""
        persisted = json.loads((self._path / name / EDGE_CONFIG_FILE).read_text())
        vectors = persisted.get("vectors", {}).get("")
        return vectors["size"] if vectors else None

    def _vector_config(self, dimension: int) -> edge.EdgeConfig:
        return self._config(vectors=edge.EdgeVectorParams(size=dimension, distance=edge.Distance.Cosine))

    def _term_config(self) -> edge.EdgeConfig:
        return self._config(sparse_vectors={TERMS: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)})

    def _config(self, **stored: Any) -> edge.EdgeConfig:
        return edge.EdgeConfig(**stored, optimizers=_OPTIMIZERS, max_search_threads=self._search_threads)

    def ensure_collection(self, name: str, dimension: int) -> None:
        self._create(name, self._vector_config(dimension), PAYLOAD_INDEX_FIELDS)

    def ensure_term_collection(self, name: str) -> None:
        self._create(name, self._term_config(), TERM_KEYWORD_FIELDS)

    def _create(self, name: str, config: edge.EdgeConfig, keyword_fields: Sequence[str]) -> None:
        with self._lock:
            if self._shard(name) is not None:
                return
            shard = edge.EdgeShard.create(str(self._path / name), config)
            for field in keyword_fields:
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
            self._forget_idf(name)
            self._indexed.pop(name, None)
            shutil.rmtree(self._path / name, ignore_errors=True)

    def upsert(self, name: str, points: Sequence[VectorPoint]) -> None:
        self._write(name, [edge.Point(point_id(p.key), p.vector.tolist(), {**p.payload, "key": p.key})
                           for p in points])  # fmt: skip

    def upsert_terms(self, name: str, points: Sequence[TermPoint]) -> None:
        self._write(name, [edge.Point(term_point_id(p.key), {TERMS: _sparse(p.weights)} if p.weights else {},
                                      {**p.payload, "key": p.key}) for p in points])  # fmt: skip

    def _write(self, name: str, points: list[edge.Point]) -> None:
        shard = self._shard(name)
        if shard is None:
            raise LookupError(f"collection {name} does not exist")
        self._index_fields(name, shard, (point.payload or {} for point in points))
        for start in range(0, len(points), UPSERT_BATCH):
            shard.update(edge.UpdateOperation.upsert_points(points[start : start + UPSERT_BATCH]))
        self._changed(name, shard, written=len(points))

    def _index_fields(self, name: str, shard: edge.EdgeShard, payloads: Iterable[dict[str, Any]]) -> None:
        """Creates the payload index of each metadata field the payloads carry that has none yet."""
        with self._lock:
            known = self._indexed.get(name)
            if known is None:
                known = self._indexed[name] = set(shard.info().payload_schema)
            for key, kind in fields_to_index(payloads, known).items():
                schema = (
                    edge.KeywordIndexParams(prefix=True) if kind == "keyword" else edge.FloatIndexParams()
                )
                shard.update(edge.UpdateOperation.create_field_index(key, schema))
                known.add(key)

    def set_document_payload(self, name: str, document_id: str, payload: dict[str, Any]) -> None:
        """Replaces these top-level payload fields on every point of the document."""
        shard = self._shard(name)
        if shard is not None:
            self._index_fields(name, shard, [payload])
            shard.update(edge.UpdateOperation.set_payload_by_filter(_match(document_id=document_id), payload))

    def delete_keys(self, name: str, keys: Iterable[str]) -> None:
        self._delete(name, [point_id(key) for key in keys])

    def delete_terms(self, name: str, keys: Iterable[str]) -> None:
        self._delete(name, [term_point_id(key) for key in keys])

    def _delete(self, name: str, ids: list[str]) -> None:
        shard = self._shard(name)
        if ids and shard is not None:
            shard.update(edge.UpdateOperation.delete_points(list[int | UUID | str](ids)))
            self._changed(name, shard, deleted=len(ids))

    def delete_where(self, name: str, **equals: str) -> None:
        shard = self._shard(name)
        if shard is not None:
            doomed = shard.count(edge.CountRequest(exact=True, filter=_match_all(**equals)))
            shard.update(edge.UpdateOperation.delete_points_by_filter(_match(**equals)))
            self._changed(name, shard, deleted=doomed)

    def count(self, name: str, **equals: str) -> int:
        shard = self._shard(name)
        if shard is None:
            return 0
        return shard.count(edge.CountRequest(exact=True, filter=_match_all(**equals)))

    def keys(self, name: str, **equals: str) -> set[str]:
        return self.payload_values(name, "key", **equals)

    def payload_values(self, name: str, field: str, **equals: str) -> set[str]:
        return {payload[field] for payload in self.payloads(name, [field], **equals) if field in payload}

    def payloads(self, name: str, fields: list[str], **equals: str) -> list[dict[str, Any]]:
        shard = self._shard(name)
        found: list[dict[str, Any]] = []
        offset = None
        while shard is not None:
            page = edge.ScrollRequest(
                offset=offset, limit=SCROLL_PAGE, filter=_match_all(**equals), with_payload=fields,
                with_vector=False,
            )  # fmt: skip
            records, offset = shard.scroll(page)
            found.extend(record.payload or {} for record in records)
            if offset is None:
                break
        return found

    def vectors(self, name: str, keys: list[str]) -> dict[str, np.ndarray]:
        shard = self._shard(name)
        if not keys or shard is None:
            return {}
        records = shard.retrieve([point_id(key) for key in keys], with_payload=["key"], with_vector=True)
        return {
            (record.payload or {})["key"]: np.asarray(record.vector, dtype=np.float32) for record in records
        }

    def similarities(self, name: str, vector: np.ndarray, keys: list[str]) -> dict[str, float]:
        """The query's similarity to the stored vectors of `keys`, computed by the engine: a search among
        those points alone, with no vector or payload handed back (a fifth of the time of reading them)."""
        shard = self._shard(name)
        if not keys or shard is None:
            return {}
        ids = {point_id(key): key for key in keys}
        points = shard.query(
            edge.QueryRequest(limit=len(ids), query=edge.Query.Nearest(vector.tolist()),
                              filter=edge.Filter(must=[edge.HasIdCondition(set(ids))]), with_payload=False)
        )  # fmt: skip
        return {ids[str(point.id)]: float(point.score) for point in points}

    def search(
        self, name: str, vector: np.ndarray, limit: int, restriction: Restriction | None = None
    ) -> list[VectorHit]:
        shard = self._shard(name)
        if shard is None:
            return []
        points = shard.query(
            edge.QueryRequest(limit=limit, query=edge.Query.Nearest(vector.tolist()),
                              filter=edge_filter(restriction), with_payload=HIT_FIELDS)
        )  # fmt: skip
        return [
            VectorHit((point.payload or {})["key"], float(point.score), point.payload or {})
            for point in points
        ]

    def search_terms(
        self, name: str, weights: dict[int, float], limit: int, *, restriction: Restriction | None = None,
        keys: list[str] | None = None,
    ) -> dict[str, float]:  # fmt: skip
        shard = self._shard(name)
        if shard is None or not weights:
            return {}
        ids = None if keys is None else [edge.HasIdCondition({term_point_id(key) for key in keys})]
        points = shard.query(
            edge.QueryRequest(limit=limit, query=edge.Query.Nearest(_sparse(weights), using=TERMS),
                              filter=edge_filter(restriction, ids), with_payload=False)
        )  # fmt: skip
        return {str(point.id): float(point.score) for point in points}

    def records(self, name: str, keys: list[str]) -> dict[str, dict[str, Any]]:
        shard = self._shard(name)
        if not keys or shard is None:
            return {}
        records = shard.retrieve([term_point_id(key) for key in keys], True, False)
        return {(record.payload or {})["key"]: record.payload or {} for record in records}

    def size(self, name: str) -> int:
        shard = self._shard(name)
        return 0 if shard is None else shard.count(edge.CountRequest(exact=False))

    def term_idf(self, name: str, dimensions: Iterable[int]) -> dict[int, float]:
        shard = self._shard(name)
        dimensions = list(dict.fromkeys(dimensions))
        if shard is None or not dimensions:
            return {}
        with self._lock:
            generation, known = self._generations.get(name, 0), self._idf.get(name, {})
            idf = {dimension: known[dimension] for dimension in dimensions if dimension in known}
        missing = [dimension for dimension in dimensions if dimension not in idf]
        if missing:
            requests = [
                edge.QueryRequest(limit=1, query=edge.Query.Nearest(_sparse({dimension: 1.0}), using=TERMS),
                                  with_vector=[TERMS])
                for dimension in missing
            ]  # fmt: skip
            answers = shard.query_batch(edge.QueryBatchRequest(requests))
            fresh = {dimension: idf_of_term_point(dimension, points[0]) if points else None
                     for dimension, points in zip(missing, answers, strict=True)}  # fmt: skip
            idf |= fresh
            with self._lock:
                if self._generations.get(name, 0) == generation:
                    cached = self._idf.setdefault(name, {})
                    if len(cached) > IDF_CACHE_TERMS:
                        cached.clear()
                    cached |= fresh
        return {dimension: value for dimension, value in idf.items() if value is not None}

    def _forget_idf(self, name: str) -> None:
        with self._lock:
            self._generations[name] = self._generations.get(name, 0) + 1
            self._idf.pop(name, None)

    def _changed(self, name: str, shard: edge.EdgeShard, deleted: int = 0, written: int = 0) -> None:
        """Edge has no optimiser of its own. One runs in the background once enough new points sit
        outside an optimised segment: outside the HNSW graph for vectors; for terms, which Edge indexes
        at once but in a mutable in-memory index of twice the size, the points written since the last
        one. One also runs once enough vectors were deleted or overwritten: those still count in the
        IDF statistics of a term collection until their segment is rewritten, so a writer of one waits
        for that optimisation, and its idf is exact again at once."""
        self._forget_idf(name)
        info = shard.info()
        term_collection = PAYLOAD_INDEX_FIELDS[0] not in info.payload_schema  # only vectors index workspaces
        with self._lock:
            self._deleted[name] = self._deleted.get(name, 0) + deleted
            self._written[name] = self._written.get(name, 0) + written
            stale = max(self._deleted[name], info.indexed_vectors_count - info.points_count)
            unoptimized = (
                self._written[name] if term_collection else info.points_count - info.indexed_vectors_count
            )
            inexact = stale > STALE_SHARE_BEFORE_OPTIMIZE * info.points_count
            thread = self._optimizing.get(name)
            if thread is None and (inexact or unoptimized >= self._optimize_after):
                thread = self._start_optimizing(name, shard)
        if term_collection and inexact and thread is not None:
            thread.join()

    def _start_optimizing(self, name: str, shard: edge.EdgeShard) -> threading.Thread:
        """Called under the lock, which keeps it to one optimisation per collection at a time."""
        thread = threading.Thread(
            target=self._optimize, args=(name, shard), name=f"optimize-{name}", daemon=True
        )
        self._optimizing[name] = thread
        self._deleted[name] = self._written[name] = 0
        thread.start()
        return thread

    def _optimize(self, name: str, shard: edge.EdgeShard) -> None:
        try:
            shard.optimize()
        except Exception:  # noqa: BLE001 - a dropped or closed shard; searches stay exact meanwhile
            logger.warning("optimising collection %s stopped", name, exc_info=True)
        finally:
            self._forget_idf(name)  # rewritten segments no longer count deleted points
            with self._lock:
                self._optimizing.pop(name, None)

    def optimize(self, name: str) -> None:
        """Optimises the collection now, in this thread (tests; the writes start it in the background)."""
        shard = self._shard(name)
        if shard is not None:
            self.wait_for_optimizations()
            shard.optimize()
            self._forget_idf(name)
            with self._lock:
                self._deleted[name] = self._written[name] = 0

    def wait_for_optimizations(self, timeout: float | None = None) -> None:
        """Returns once the background index builds under way have finished (tests, `kb reindex`)."""
        with self._lock:
            running = list(self._optimizing.values())
        for thread in running:
            thread.join(timeout)


def _sparse(weights: dict[int, float]) -> edge.SparseVector:
    return edge.SparseVector(list(weights), list(weights.values()))


def edge_filter(restriction: Restriction | None, extra: list[Any] | None = None) -> edge.Filter | None:
    """The restriction (and `extra` conditions, all required) as Qdrant Edge's filter."""
    if restriction is None and not extra:
        return None
    restriction = restriction or Restriction()
    return _edge_filter(restriction, extra or [])


def _edge_filter(node: Restriction, extra: list[Any]) -> edge.Filter:
    return edge.Filter(
        must=[*map(_edge_node, node.must), *extra] or None,
        should=[_edge_node(n) for n in node.should] or None,
        must_not=[_edge_node(n) for n in node.must_not] or None,
    )


def _edge_node(node: Condition | Restriction) -> Any:
    if isinstance(node, Restriction):
        return _edge_filter(node, [])
    if node.kind == "empty":
        return edge.IsEmptyCondition(node.key)
    if node.kind == "range":
        return edge.FieldCondition(node.key, range=edge.RangeFloat(**node.bounds))
    makers: dict[str, Callable[[], Any]] = {
        "any": lambda: edge.MatchAny(list(node.values)),
        "substring": lambda: edge.MatchSubstring(node.text),
        "prefix": lambda: edge.MatchPrefix(node.text),
    }
    match = makers[node.kind]()
    return edge.FieldCondition(node.key, match=match)


def _match_all(**equals: str) -> edge.Filter | None:
    """All points when nothing is named, else those whose fields equal these values."""
    return _match(**equals) if equals else None


def _match(**equals: str) -> edge.Filter:
    return edge.Filter(
        must=[edge.FieldCondition(key, match=edge.MatchValue(value)) for key, value in equals.items()]
    )
