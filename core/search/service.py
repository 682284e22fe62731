"""Searching a dataset: one function behind hit-testing, /retrieve and the external /retrieval call,
so that they can never disagree."""

import contextvars
import os
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from core import metrics, tracing
from core.api_keys.service import Caller
from core.database import AmongIds
from core.datasets.models import Dataset, IndexingTechnique
from core.documents.models import UNFINISHED_STATUSES, Document, IndexingStatus
from core.errors import InvalidParam, ServiceError
from core.index.engines import get_reranker
from core.index.live import live_chunk_condition
from core.queries.models import DatasetQuery
from core.search import legs
from core.search.filters import MATCHES_NOTHING, metadata_restriction
from core.search.hybrid import gather_candidates, keyword_scores
from core.search.legs import NodeHit
from core.search.schemas import RetrievalModel, SearchMethod
from core.search.scoring import LegScores, Scored, calibration_of, fuse, score_keyword_leg, score_vector_leg
from core.search.timings import SearchTimings
from core.segments.models import ChildChunk, Segment
from core.settings import get_settings
from retrieval.conditions import Restriction
from retrieval.embedders import Embedder
from retrieval.fusion import DEFAULT_RRF_K
from retrieval.rerankers import Reranker

# Apps send their user's whole question; hit-testing keeps the console's short-query rule.
MAX_QUERY_LENGTH = 10_000
HIT_TESTING_QUERY_LENGTH = 250
HYBRID_RECALL_MIN, HYBRID_RECALL_MAX = 50, 200
# Chosen on SciFact's training queries with the calibrated fusion (0.45 and 0.5 score alike on both
# chunkings; Dify's "semantic first" 0.7 / 0.3 scores lower on both).
DEFAULT_WEIGHTS = (0.45, 0.55)
VECTOR_METHODS = (SearchMethod.SEMANTIC, SearchMethod.HYBRID)
DEFAULT_QUERY_RETRIEVAL_MODEL = RetrievalModel(
    search_method=SearchMethod.SEMANTIC, reranking_enable=False, top_k=4, score_threshold_enabled=False
)


class DatasetNotInitialized(ServiceError):
    code = "dataset_not_initialized"
    status = 400
    default_message = "The dataset is still being initialized or indexing. Please wait a moment."


@dataclass
class SegmentResult:
    segment: Segment
    document: Document
    score: float
    child_chunks: list[tuple[ChildChunk, float]] = field(default_factory=list)
    legs: LegScores = field(default_factory=LegScores)
    order: float = 0.0  # the ranking key: the score, or the reciprocal rank in RRF mode


@dataclass
class SearchOutcome:
    results: list[SegmentResult]
    timings: SearchTimings
    query_terms: list[str]


# Searches run at once in this process: one per core and one more, so that a core has work while a
# search waits for the interpreter lock. More only take turns at the lock, and each turn costs a wait:
# with 16 clients on 2 cores, hybrid searches fell from 68 to 51 a second without this bound, and held
# at 70 with it. The others wait their turn without holding the lock.
SEARCHES_AT_ONCE = threading.BoundedSemaphore(len(os.sched_getaffinity(0)) + 1)

# Query embeddings wait on the model processes, not on this process's CPU: a few threads suffice.
_EMBEDDING_THREADS = ThreadPoolExecutor(max_workers=16, thread_name_prefix="query-embedding")


class _PendingQueryVector:
    """The query's embedding, started with the search: the model works while this process checks the
    dataset, resolves the metadata filter and runs the keyword leg."""

    def __init__(self, dataset: Dataset, query: str, timings: SearchTimings):
        embedder = legs.query_embedder(dataset)  # here: the dataset's row belongs to this thread's session
        self._future: Future | None = None
        if embedder is not None:
            # the context carries the search's trace, so the embedding's span stays inside it
            self._future = _EMBEDDING_THREADS.submit(
                contextvars.copy_context().run, self._embed, embedder, query, timings
            )

    @staticmethod
    def _embed(embedder: Embedder, query: str, timings: SearchTimings):
        with timings.measure("query_embedding"):
            return legs.query_vectors.get(embedder, query)

    def result(self):
        return None if self._future is None else self._future.result()


@dataclass
class _Ranked:
    """Scores by node (fused, or reranked), the ranking key where it is not the score (reciprocal
    rank), the hits they came from, and each node's standing in the legs."""

    scores: dict[str, float]
    hits: dict[str, NodeHit]
    legs: dict[str, LegScores]
    order: dict[str, float]

    @classmethod
    def of(cls, scored: Scored, hits: dict[str, NodeHit]) -> "_Ranked":
        return cls(scored.scores, hits, scored.legs, scored.order or scored.scores)


def resolve_retrieval_model(dataset: Dataset, requested: RetrievalModel | None) -> RetrievalModel:
    """The request's settings, else the dataset's, else the default; economy datasets only have
    keyword search."""
    model = requested or (
        RetrievalModel.model_validate(dataset.retrieval_model)
        if dataset.retrieval_model
        else DEFAULT_QUERY_RETRIEVAL_MODEL
    )
    if dataset.indexing_technique == IndexingTechnique.ECONOMY:
        model = model.model_copy(update={"search_method": SearchMethod.KEYWORD})
    return model


def check_query(query: str | None, max_length: int = MAX_QUERY_LENGTH) -> str:
    if not query or not query.strip():
        raise InvalidParam("Query or attachment_ids is required")
    if len(query) > max_length:
        raise InvalidParam(f"Query cannot exceed {max_length} characters.")
    return query


def search_dataset(
    session: Session,
    dataset: Dataset,
    query: str | None,
    model: RetrievalModel,
    *,
    record_as: tuple[Caller, str] | None = None,
) -> SearchOutcome:
    """Runs the search; `record_as` (caller, source) logs the query as a dataset query."""
    attributes = {"dataset_id": dataset.id, "search_method": str(model.search_method), "top_k": model.top_k}
    with SEARCHES_AT_ONCE, tracing.span("search", attributes):
        return _search_dataset(session, dataset, query, model, record_as)


def _search_dataset(
    session: Session,
    dataset: Dataset,
    requested: str | None,
    model: RetrievalModel,
    record_as: tuple[Caller, str] | None,
) -> SearchOutcome:
    started = time.perf_counter()
    query = check_query(requested)
    timings = SearchTimings()
    vector = _PendingQueryVector(dataset, query, timings) if model.search_method in VECTOR_METHODS else None
    top_k = min(model.top_k, get_settings().top_k_max_value)
    restriction = metadata_restriction(session, dataset, model.metadata_filtering_conditions)
    reranker = _reranker(model)

    def ranked() -> list[SegmentResult]:
        if restriction is MATCHES_NOTHING:
            return []  # conditions that match no document: nothing to search
        return _ranked_results(session, dataset, query, vector, model, top_k, restriction, reranker, timings)

    results = ranked()
    # Whether the dataset has anything searchable is only asked when nothing was found: the legs only
    # return live chunks, so a search that found some has its answer.
    if not results and not _has_live_segments(session, dataset):
        _refuse_if_not_ready(session, dataset)
    elif not results:
        # The chunks the engine named may have been swapped out between its answer and the
        # database's (a re-index going live): asked again, the engine names their successors.
        results = ranked()
    if model.score_threshold_enabled and model.score_threshold is not None:
        results = [result for result in results if result.score >= model.score_threshold]
    if record_as is not None:
        caller, source = record_as
        session.add(
            DatasetQuery(
                dataset_id=dataset.id,
                content=query,
                source=source,
                retrieval_model=model.model_dump(mode="json"),
                created_by=caller.account.id,
            )
        )
        session.commit()
    timings.total = (time.perf_counter() - started) * 1000
    _observe(model.search_method, timings)
    return SearchOutcome(results[:top_k], timings, legs.query_terms(query))


def _ranked_results(
    session: Session, dataset: Dataset, query: str, vector: _PendingQueryVector | None,
    model: RetrievalModel, top_k: int, restriction: Restriction | None, reranker: Reranker | None,
    timings: SearchTimings,
) -> list[SegmentResult]:  # fmt: skip
    recall = _hybrid_recall(top_k) if reranker else top_k
    ranked = _node_scores(session, dataset, query, vector, model, recall, restriction, timings)
    if reranker is not None:
        with timings.measure("rerank"):
            ranked = _reranked(ranked, _rerank(session, reranker, query, ranked.scores))
    return _group_by_segment(session, ranked, top_k)


def _observe(method: str, timings: SearchTimings) -> None:
    for stage, milliseconds in timings.as_dict().items():
        if milliseconds or stage == "total":  # a stage that did not run is not a sample of zero
            metrics.SEARCH_SECONDS.labels(method, stage).observe(milliseconds / 1000)


def _node_scores(
    session: Session,
    dataset: Dataset,
    query: str,
    vector: _PendingQueryVector | None,
    model: RetrievalModel,
    top_k: int,
    restriction: Restriction | None,
    timings: SearchTimings,
) -> _Ranked:
    calibration = calibration_of(dataset)
    if model.search_method == SearchMethod.SEMANTIC:
        embedded = vector.result() if vector is not None else None
        with timings.measure("vector_search"):
            hits = legs.vector_leg(session, dataset, embedded, top_k, restriction)
        return _Ranked.of(score_vector_leg(hits, calibration), {hit.node_id: hit for hit in hits})
    if model.search_method in (SearchMethod.FULL_TEXT, SearchMethod.KEYWORD):
        with timings.measure("keyword_search"):
            hits = legs.best_hits(keyword_scores(session, dataset, query, restriction, top_k), top_k)
        return _Ranked.of(score_keyword_leg(hits, calibration), {hit.node_id: hit for hit in hits})
    pending = vector.result if vector is not None else lambda: None
    recall = _hybrid_recall(top_k)
    candidates = gather_candidates(session, dataset, query, pending, recall, restriction, timings)
    with timings.measure("fusion"):
        rrf_k = (model.rrf_k or DEFAULT_RRF_K) if model.reranking_mode == "rrf" else None
        scored = fuse(candidates, calibration, *_weights(model), rrf_k=rrf_k)
    return _Ranked.of(scored, candidates.hits)


def _hybrid_recall(top_k: int) -> int:
    return min(max(top_k, HYBRID_RECALL_MIN), HYBRID_RECALL_MAX)


def _reranker(model: RetrievalModel) -> Reranker | None:
    """A rerank model applies when enabled, named, and the mode is not a fusion (null means rerank)."""
    names = model.reranking_model
    if not (
        model.reranking_enable and names and names.reranking_model_name and names.reranking_provider_name
    ):
        return None
    if model.reranking_mode not in (None, "reranking_model"):
        return None
    return get_reranker(names.reranking_provider_name, names.reranking_model_name)


def _reranked(ranked: _Ranked, scores: dict[str, float]) -> _Ranked:
    """The rerank model's scores become the records' scores and order; the retrieval's stay beside."""
    for node, score in scores.items():
        ranked.legs.setdefault(node, LegScores()).rerank_score = score
    return _Ranked(scores, ranked.hits, ranked.legs, scores)


def _rerank(session: Session, reranker: Reranker, query: str, scores: dict[str, float]) -> dict[str, float]:
    """The rerank model's relevance replaces the retrieval scores of the recalled chunks."""
    nodes = list(scores)
    texts = dict(
        session.execute(select(ChildChunk.id, ChildChunk.content).where(ChildChunk.id.in_(nodes))).all()
    )
    texts |= dict(
        session.execute(
            select(Segment.index_node_id, Segment.content).where(Segment.index_node_id.in_(nodes))
        ).all()
    )
    nodes = [node for node in nodes if node in texts]
    return dict(zip(nodes, reranker.score(query, [texts[node] for node in nodes]), strict=True))


def _weights(model: RetrievalModel) -> tuple[float, float]:
    if model.weights is None:
        return DEFAULT_WEIGHTS
    return model.weights.vector_setting.vector_weight, model.weights.keyword_setting.keyword_weight


def _group_by_segment(session: Session, ranked: _Ranked, top_k: int) -> list[SegmentResult]:
    """Chunks hit through their children come back once, as the parent with the matched children;
    the record's score (and leg standing) is its best child's. Only the best `top_k` segments (with
    any tied with the last) are read from the database, more only if some of them have just gone."""
    nodes = sorted(ranked.scores, key=lambda node: -ranked.order[node])
    best: dict[str, float] = {}  # segment -> its best node's ranking key, best first
    for node in nodes:
        best.setdefault(ranked.hits[node].segment_id, ranked.order[node])
    segment_ids = list(best)
    results: dict[str, SegmentResult] = {}
    start = 0
    while start < len(segment_ids) and len(results) < top_k:
        end = start + top_k - len(results)
        while end < len(segment_ids) and best[segment_ids[end]] == best[segment_ids[end - 1]]:
            end += 1  # ties with the last are ordered by position below: read them too
        wanted = set(segment_ids[start:end])
        results |= _results(
            session, ranked, [node for node in nodes if ranked.hits[node].segment_id in wanted]
        )
        start = end
    return sorted(results.values(), key=_rank_order)[:top_k]


def _results(session: Session, ranked: _Ranked, nodes: list[str]) -> dict[str, SegmentResult]:
    """The records of these nodes (best first) whose segment and document are still there."""
    segment_ids = list({ranked.hits[node].segment_id: None for node in nodes})
    segments = {s.id: s for s in session.scalars(_rows_by_id(Segment, "id"), {"ids": segment_ids})}
    document_ids = list({s.document_id: None for s in segments.values()})
    documents = {d.id: d for d in session.scalars(_rows_by_id(Document, "id"), {"ids": document_ids})}
    child_nodes = [node for node in nodes if node != ranked.hits[node].segment_id]
    children = {}
    if child_nodes:
        chosen = session.scalars(_rows_by_id(ChildChunk, "index_node_id"), {"ids": child_nodes})
        children = {child.id: child for child in chosen}
    results: dict[str, SegmentResult] = {}
    for node in nodes:
        segment = segments.get(ranked.hits[node].segment_id)
        if segment is None or segment.document_id not in documents:
            continue
        score = ranked.scores[node]
        if segment.id not in results:
            standing = ranked.legs.get(node, LegScores())
            document = documents[segment.document_id]
            results[segment.id] = SegmentResult(
                segment, document, score, legs=standing, order=ranked.order[node]
            )
        if node in children:
            results[segment.id].child_chunks.append((children[node], score))
    return results


@cache
def _rows_by_id(model, column: str):
    """The rows of `model` whose `column` is among the `ids` parameter: one statement compiled once."""
    return select(model).where(AmongIds(getattr(model, column), legs.IDS))


def _rank_order(result: SegmentResult) -> tuple:
    """Best first; equal scores (repeated text) in reading order, the same on every deployment."""
    return -result.order, result.document.position, result.segment.position


def _refuse_if_not_ready(session: Session, dataset: Dataset) -> None:
    """A dataset with no searchable chunk: still being indexed (or empty), as Dify says it; or every
    document failed, which waiting will not change. Otherwise (documents disabled or archived, say)
    the search simply finds nothing."""
    statuses = Counter(
        session.scalars(select(Document.indexing_status).where(Document.dataset_id == dataset.id))
    )
    if not statuses or any(status in UNFINISHED_STATUSES for status in statuses):
        raise DatasetNotInitialized()
    if statuses[IndexingStatus.ERROR] and not statuses[IndexingStatus.COMPLETED]:
        raise DatasetNotInitialized(
            f"No document of this dataset could be indexed: {statuses[IndexingStatus.ERROR]} failed "
            "(each document's error says why)."
        )


def _has_live_segments(session: Session, dataset: Dataset) -> bool:
    return session.scalar(_any_live_segment(), {"dataset_id": dataset.id}) is not None


@cache
def _any_live_segment():
    dataset_id = bindparam("dataset_id")
    return (
        select(Segment.id)
        .join(Document, Document.id == Segment.document_id)
        # the documents' own dataset condition lets the planner start from them (it scans every
        # document of every dataset otherwise: 27 ms with 62,000 documents)
        .where(Document.dataset_id == dataset_id, Segment.dataset_id == dataset_id)
        .where(live_chunk_condition())
        .limit(1)
    )


def search_datasets(
    session: Session,
    caller: Caller,
    datasets: list[Dataset],
    query: str,
    requested: RetrievalModel | None,
    source: str = "multi_retrieval",
) -> list[tuple[Dataset, SegmentResult]]:
    """Multi-path recall: each dataset is searched with the request's settings (or its own), then the
    lists are merged by a rerank model when one is named, else by score: every dataset's scores are
    probabilities of relevance, so they compare across datasets."""
    check_query(query)
    found: list[tuple[Dataset, SegmentResult]] = []
    searched = 0
    for dataset in datasets:
        model = resolve_retrieval_model(dataset, requested)
        try:
            outcome = search_dataset(session, dataset, query, model, record_as=(caller, source))
        except DatasetNotInitialized:
            continue
        searched += 1
        found += [(dataset, result) for result in outcome.results]
    if not searched and datasets:
        raise DatasetNotInitialized()
    model = requested or DEFAULT_QUERY_RETRIEVAL_MODEL
    top_k = min(model.top_k, get_settings().top_k_max_value)
    reranker = _reranker(model)
    if reranker is not None:
        scores = reranker.score(query, [result.segment.content for _, result in found])
        for (_, result), score in zip(found, scores, strict=True):
            result.score = result.legs.rerank_score = score
    for _, result in found:
        result.order = result.score
    merged = sorted(found, key=lambda pair: _rank_order(pair[1]))[:top_k]
    count_hits(session, [result for _, result in merged])
    return merged


def count_hits(session: Session, results: list[SegmentResult]) -> None:
    """App-side retrieval (the external endpoint, multi-dataset retrieval) counts a hit on each returned
    segment, in the database so concurrent requests never lose one; hit-testing does not count."""
    if results:
        session.execute(
            update(Segment)
            .where(Segment.id.in_([result.segment.id for result in results]))
            .values(hit_count=Segment.hit_count + 1)
            .execution_options(synchronize_session=False)
        )
        session.commit()
