"""The two retrieval legs over one dataset: BM25 over the inverted index, and vector similarity.

Both only see chunks that are live (segment completed and enabled, document completed, enabled and
not archived) and, when given, of the allowed documents: the restriction is part of the SQL query and
of the engine's filter, never applied to results afterwards.
"""

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.datasets.models import Dataset, DocForm
from core.documents.models import Document, IndexingStatus
from core.indexing.models import KeywordNode, KeywordPosting
from core.indexing.vectors import get_embedder, get_vector_store
from core.segments.models import Segment
from retrieval.bm25 import CorpusStatistics, normalised_bm25_scores
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


def query_terms(query: str) -> list[str]:
    """The index terms of a query, each once, in query order."""
    return list(dict.fromkeys(tokenize(query)))


def keyword_leg(
    session: Session, dataset: Dataset, query: str, limit: int, document_ids: list[str] | None,
    *, k1: float, b: float, document_weight: float = 0.0,
) -> list[NodeHit]:  # fmt: skip
    """The `limit` best chunks by BM25."""
    hits = keyword_scores(session, dataset, query, document_ids, k1=k1, b=b, document_weight=document_weight)
    return best_hits(hits, limit)


def best_hits(hits: dict[str, NodeHit], limit: int) -> list[NodeHit]:
    """The `limit` highest-scoring hits; ties in node order, so results are repeatable."""
    return sorted(hits.values(), key=lambda hit: (-hit.score, hit.node_id))[:limit]


@dataclass
class _Postings:
    """The live postings of the query terms, by term and node."""

    term_frequencies: dict[str, dict[str, int]]
    lengths: dict[str, int]
    segments: dict[str, str]
    documents: dict[str, str]
    standalone: set[str]  # nodes of Q&A documents: each pair stands on its own


def keyword_scores(
    session: Session, dataset: Dataset, query: str, document_ids: list[str] | None,
    *, k1: float, b: float, document_weight: float = 0.0,
) -> dict[str, NodeHit]:  # fmt: skip
    """BM25 of every live chunk holding a query term, with corpus statistics over the dataset's live
    chunks; scores normalised by the query's upper bound.

    With a `document_weight` w, a chunk scores (1 - w) * its own BM25 + w * its document's, the
    document being all its live chunks taken as one text (both normalised): a chunk then carries the
    evidence of its title and its neighbours, which a 500-character window alone often lacks."""
    terms = tokenize(query)
    if not terms:
        return {}
    live = _live_nodes(dataset)
    count, average, document_count, total_length = session.execute(
        select(func.count(), func.avg(live.c.length), func.count(live.c.document_id.distinct()),
               func.sum(live.c.length))
    ).one()  # fmt: skip
    if not count:
        return {}
    frequencies, document_frequencies = {}, {}
    for term, nodes, documents in session.execute(
        select(KeywordPosting.term, func.count(), func.count(live.c.document_id.distinct()))
        .join(live, live.c.node_id == KeywordPosting.node_id)
        .where(KeywordPosting.dataset_id == dataset.id, KeywordPosting.term.in_(set(terms)))
        .group_by(KeywordPosting.term)
    ):
        frequencies[term], document_frequencies[term] = nodes, documents
    postings = _postings(session, dataset, terms, document_ids)
    statistics = CorpusStatistics(count, float(average or 0))
    scores = normalised_bm25_scores(
        terms, postings.term_frequencies, postings.lengths, frequencies, statistics, k1=k1, b=b
    )
    if document_weight > 0:
        document_statistics = CorpusStatistics(document_count, float(total_length) / document_count)
        by_document = _document_scores(
            session, dataset, terms, postings, document_frequencies, document_statistics, k1=k1, b=b
        )
        scores = {
            node: score
            if node in postings.standalone
            else (1 - document_weight) * score + document_weight * by_document[postings.documents[node]]
            for node, score in scores.items()
        }
    return {node: NodeHit(node, postings.segments[node], score) for node, score in scores.items()}


def _live_nodes(dataset: Dataset):
    return (
        select(KeywordNode)
        .join(Segment, Segment.id == KeywordNode.segment_id)
        .join(Document, Document.id == KeywordNode.document_id)
        .where(KeywordNode.dataset_id == dataset.id, live_chunk_condition(None))
    ).subquery()


def _postings(
    session: Session, dataset: Dataset, terms: list[str], document_ids: list[str] | None
) -> _Postings:
    rows = session.execute(
        select(
            KeywordPosting.term,
            KeywordPosting.node_id,
            KeywordPosting.term_frequency,
            KeywordNode.length,
            KeywordNode.segment_id,
            KeywordNode.document_id,
            Document.doc_form,
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
    postings = _Postings(defaultdict(dict), {}, {}, {}, set())
    for term, node, tf, length, segment_id, document_id, doc_form in rows:
        postings.term_frequencies[term][node] = tf
        postings.lengths[node], postings.segments[node] = length, segment_id
        postings.documents[node] = document_id
        if doc_form == DocForm.QA:
            postings.standalone.add(node)
    return postings


def _document_scores(
    session: Session, dataset: Dataset, terms: list[str], postings: _Postings,
    document_frequencies: dict[str, int], statistics: CorpusStatistics, *, k1: float, b: float,
) -> dict[str, float]:  # fmt: skip
    """BM25 of the documents holding the query terms, each document scored as the concatenation of
    its live chunks (term counts and lengths summed over them), normalised by the query's bound."""
    term_frequencies: dict[str, dict[str, int]] = defaultdict(dict)
    for term, nodes in postings.term_frequencies.items():
        for node, tf in nodes.items():
            document = postings.documents[node]
            term_frequencies[term][document] = term_frequencies[term].get(document, 0) + tf
    live = _live_nodes(dataset)
    holding_terms = select(KeywordNode.document_id).where(
        KeywordNode.node_id.in_(
            select(KeywordPosting.node_id).where(
                KeywordPosting.dataset_id == dataset.id, KeywordPosting.term.in_(set(terms))
            )
        )
    )
    lengths = dict(
        session.execute(
            select(live.c.document_id, func.sum(live.c.length))
            .where(live.c.document_id.in_(holding_terms))
            .group_by(live.c.document_id)
        ).all()
    )
    return normalised_bm25_scores(
        terms, term_frequencies, lengths, document_frequencies, statistics, k1=k1, b=b
    )


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
    hits = get_vector_store().search(dataset.vector_collection, vector, limit * 2 + 10, document_ids)
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
