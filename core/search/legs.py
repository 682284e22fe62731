"""The two retrieval legs over one dataset: BM25 over the inverted index, and vector similarity.

Both only see chunks that are live (segment completed and enabled, document completed, enabled and
not archived) and, when given, of the allowed documents: the restriction is part of the SQL query and
of the Qdrant filter, never applied to results afterwards.
"""

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from qdrant_client import models
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.datasets.models import Dataset
from core.documents.models import Document, IndexingStatus
from core.indexing.models import KeywordNode, KeywordPosting
from core.indexing.vectors import get_embedder, get_vector_store
from core.segments.models import Segment
from retrieval.bm25 import CorpusStatistics, bm25_scores, bm25_upper_bound
from retrieval.tokenizer import tokenize


@dataclass(frozen=True)
class NodeHit:
    node_id: str
    segment_id: str
    score: float  # 0..1


def live_chunk_condition(document_ids: list[str] | None):
    condition = and_(
        Segment.status == "completed",
        Segment.enabled.is_(True),
        Document.indexing_status == IndexingStatus.COMPLETED,
        Document.enabled.is_(True),
        Document.archived.is_(False),
    )
    return condition if document_ids is None else and_(condition, Document.id.in_(document_ids))


def keyword_leg(
    session: Session, dataset: Dataset, query: str, limit: int, document_ids: list[str] | None,
    *, k1: float, b: float,
) -> list[NodeHit]:  # fmt: skip
    """The `limit` best chunks by BM25."""
    return best_hits(keyword_scores(session, dataset, query, document_ids, k1=k1, b=b), limit)


def best_hits(hits: dict[str, NodeHit], limit: int) -> list[NodeHit]:
    """The `limit` highest-scoring hits; ties in node order, so results are repeatable."""
    return sorted(hits.values(), key=lambda hit: (-hit.score, hit.node_id))[:limit]


def keyword_scores(
    session: Session, dataset: Dataset, query: str, document_ids: list[str] | None, *, k1: float, b: float
) -> dict[str, NodeHit]:
    """BM25 of every live chunk holding a query term, with corpus statistics over the dataset's live
    chunks; scores normalised by the query's upper bound."""
    terms = tokenize(query)
    if not terms:
        return {}
    live_nodes = (
        select(KeywordNode)
        .join(Segment, Segment.id == KeywordNode.segment_id)
        .join(Document, Document.id == KeywordNode.document_id)
        .where(KeywordNode.dataset_id == dataset.id, live_chunk_condition(None))
    ).subquery()
    count, average = session.execute(select(func.count(), func.avg(live_nodes.c.length))).one()
    if not count:
        return {}
    statistics = CorpusStatistics(count, float(average or 0))
    frequencies = dict(
        session.execute(
            select(KeywordPosting.term, func.count())
            .join(live_nodes, live_nodes.c.node_id == KeywordPosting.node_id)
            .where(KeywordPosting.dataset_id == dataset.id, KeywordPosting.term.in_(set(terms)))
            .group_by(KeywordPosting.term)
        ).all()
    )
    rows = session.execute(
        select(
            KeywordPosting.term,
            KeywordPosting.node_id,
            KeywordPosting.term_frequency,
            KeywordNode.length,
            KeywordNode.segment_id,
        )  # fmt: skip
        .join(KeywordNode, KeywordNode.node_id == KeywordPosting.node_id)
        .join(Segment, Segment.id == KeywordNode.segment_id)
        .join(Document, Document.id == KeywordNode.document_id)
        .where(
            KeywordPosting.dataset_id == dataset.id,
            KeywordPosting.term.in_(set(terms)),
            live_chunk_condition(document_ids),
        )
    ).all()
    term_frequencies: dict[str, dict[str, int]] = defaultdict(dict)
    lengths, segments = {}, {}
    for term, node, tf, length, segment_id in rows:
        term_frequencies[term][node] = tf
        lengths[node], segments[node] = length, segment_id
    scores = bm25_scores(terms, term_frequencies, lengths, frequencies, statistics, k1=k1, b=b)
    bound = bm25_upper_bound(terms, frequencies, statistics, k1=k1) or 1.0
    return {node: NodeHit(node, segments[node], score / bound) for node, score in scores.items()}


def query_vector(dataset: Dataset, query: str) -> np.ndarray | None:
    if not dataset.vector_collection or not dataset.vector_model:
        return None
    return get_embedder(dataset.vector_model_provider, dataset.vector_model).embed_query(query)


def vector_leg(
    session: Session, dataset: Dataset, vector: np.ndarray | None, limit: int, document_ids: list[str] | None
) -> list[NodeHit]:
    """Cosine similarity (clamped to 0..1); chunks not live in the database are dropped, so the store
    is asked for a few more than needed."""
    if vector is None:
        return []
    conditions = [models.FieldCondition(key="dataset_id", match=models.MatchValue(value=dataset.id))]
    if document_ids is not None:
        conditions.append(models.FieldCondition(key="document_id", match=models.MatchAny(any=document_ids)))
    hits = get_vector_store().search(
        dataset.vector_collection, vector, limit=limit * 2 + 10, query_filter=models.Filter(must=conditions)
    )
    segment_ids = {hit.payload["segment_id"] for hit in hits}
    live = set(
        session.scalars(
            select(Segment.id)
            .join(Document, Document.id == Segment.document_id)
            .where(Segment.id.in_(segment_ids), live_chunk_condition(document_ids))
        ).all()
    )
    return [NodeHit(hit.key, hit.payload["segment_id"], _unit(hit.score)) for hit in hits
            if hit.payload["segment_id"] in live][:limit]  # fmt: skip


def vector_scores(dataset: Dataset, vector: np.ndarray | None, node_ids: list[str]) -> dict[str, float]:
    """Cosine of given chunks (found by the keyword leg only), from their stored vectors."""
    if vector is None or not node_ids:
        return {}
    stored = get_vector_store().vectors(dataset.vector_collection, node_ids)
    return {node: _unit(float(np.dot(stored_vector, vector))) for node, stored_vector in stored.items()}


def _unit(score: float) -> float:
    return min(1.0, max(0.0, score))
