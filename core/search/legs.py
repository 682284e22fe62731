"""The two retrieval legs over one dataset, both in the search engine: BM25 over the term
collections, and vector similarity.

Both only return chunks that are live (segment completed and enabled, document completed, enabled and
not archived): disabled and archived documents and segments leave the engine, and the few chunks the
engine holds that are not live yet (a document being indexed) are dropped by one lookup of the
candidates' segments. A restriction (metadata filters) is the engine's filter alone: the lookup need
not repeat it.
"""

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.database import AmongIds, ids_parameter, rows_at_once
from core.datasets.models import Dataset, DocForm
from core.documents.models import Document
from core.index.engines import get_embedder, get_vector_store
from core.index.keyword_index import DOCUMENTS, TEXTS, term_collections
from core.index.live import live_chunk_condition
from core.segments.models import ChildChunk, Segment
from core.settings import get_settings
from retrieval.bm25 import DEFAULT_K1, query_weights
from retrieval.conditions import Restriction, only_documents
from retrieval.embedders import Embedder
from retrieval.tokenizer import tokenize

# Chunks the keyword leg takes from the engine at least, and documents whose chunks join them.
MIN_KEYWORD_CANDIDATES = 100
MAX_BLENDED_DOCUMENTS = 50
# Chunks the vector leg asks beyond those it returns, for the ones found not live.
VECTOR_OVERFETCH = 10


@dataclass(frozen=True)
class Owner:
    segment_id: str
    document_id: str
    standalone: bool  # a Q&A pair: never blended with its document


@dataclass(frozen=True)
class NodeHit:
    node_id: str
    owner: Owner
    score: float  # 0..1

    @property
    def segment_id(self) -> str:
        return self.owner.segment_id


def query_terms(query: str) -> list[str]:
    """The index terms of a query, each once, in query order."""
    return list(dict.fromkeys(tokenize(query)))


def keyword_leg(
    session: Session, dataset: Dataset, query: str, limit: int, restriction: Restriction | None,
    *, document_weight: float = 0.0,
) -> list[NodeHit]:  # fmt: skip
    """The `limit` best chunks by BM25."""
    return best_hits(keyword_scores(session, dataset, query, restriction, limit, document_weight), limit)


def best_hits(hits: dict[str, NodeHit], limit: int) -> list[NodeHit]:
    """The `limit` highest-scoring hits; ties in node order, so results are repeatable."""
    return sorted(hits.values(), key=lambda hit: (-hit.score, hit.node_id))[:limit]


def keyword_scores(
    session: Session, dataset: Dataset, query: str, restriction: Restriction | None, limit: int,
    document_weight: float = 0.0, *, owners: dict[str, Owner] | None = None,
) -> dict[str, NodeHit]:  # fmt: skip
    """BM25 of the `limit` best live chunks for the query, or of the chunks of `owners` (found live by
    the other leg), from the engine's term collections; scores normalised by the query's upper bound
    (every term at saturation), so they lie in 0..1.

    With a `document_weight` w, a chunk scores (1 - w) * its own BM25 + w * its document's, the
    document being all its live chunks taken as one text: a chunk then carries the evidence of its
    title and its neighbours, which a 500-character window alone often lacks. The candidates are the
    best chunks by their own score and as many of the best documents' chunks, so a chunk whose
    document carries it is found even when its own text scores low (four times as many of those
    found the same on SciFact's test queries and made the leg 40 % slower). Q&A pairs are scored
    alone."""
    terms = tokenize(query)
    if not terms:
        return {}
    store, names = get_vector_store(), term_collections(dataset.id)
    weights = query_weights(terms)
    candidates = max(limit * 2, MIN_KEYWORD_CANDIDATES)
    keys = None if owners is None else list(owners)
    own = store.search_terms(names[TEXTS], weights, candidates, restriction=restriction, keys=keys)
    documents: dict[str, float] = {}
    if own and document_weight > 0 and owners is None:
        documents = store.search_terms(names[DOCUMENTS], weights, candidates, restriction=restriction)
        if documents:
            best = only_documents(list(documents)[:MAX_BLENDED_DOCUMENTS])
            own = store.search_terms(names[TEXTS], weights, candidates, restriction=best) | own
    if owners is None:
        owners = live_owners(session, list(own))
    live = {node: owners[node] for node in own if node in owners}
    if not live:
        return {}
    bound = _upper_bound(store, names[TEXTS], weights)
    scores = {node: own[node] / bound for node in live}
    if document_weight > 0:
        document_scores = _document_scores(store, names[DOCUMENTS], weights, documents, live)
        for node, owner in live.items():
            if not owner.standalone:
                document_score = document_scores.get(owner.document_id, 0.0)
                scores[node] = (1 - document_weight) * scores[node] + document_weight * document_score
    hits = {node: NodeHit(node, live[node], score) for node, score in scores.items()}
    return {hit.node_id: hit for hit in best_hits(hits, limit)}


def _document_scores(
    store, name: str, weights: dict[int, float], found: dict[str, float], owners: dict
) -> dict[str, float]:
    """The normalised BM25 of the candidates' documents: those the document query found, and the rest
    looked up by id."""
    missing = {owner.document_id for owner in owners.values() if not owner.standalone} - found.keys()
    if missing:
        found = found | store.search_terms(name, weights, len(missing), keys=sorted(missing))
    bound = _upper_bound(store, name, weights)
    return {document: score / bound for document, score in found.items()}


def _upper_bound(store, name: str, weights: dict[int, float]) -> float:
    """The best score a text could reach (every query term, with its repeats, at saturation), with
    the idf the engine gives each term; `weights` is the query's vector (term dimension -> repeats)."""
    idf = store.term_idf(name, weights)
    return (
        sum(count * idf.get(dimension, 0.0) * (DEFAULT_K1 + 1) for dimension, count in weights.items()) or 1.0
    )


def live_owners(session: Session, node_ids: list[str]) -> dict[str, Owner]:
    """The segment and document of each of the indexed texts that is live: a chunk's node id is its
    own id, and so is a child chunk's, whose rows are looked up only for the ids no chunk has."""
    if not node_ids:
        return {}
    owners = _owners(session, _live_chunk_owners(), node_ids)
    rest = [node for node in node_ids if node not in owners]
    if rest:
        owners |= _owners(session, _live_child_owners(), rest)
    return owners


# The statements of the per-search lookups take their ids as one parameter: built and compiled once.
IDS = ids_parameter("ids")


@cache
def _live_chunk_owners():
    return (
        select(Segment.id, Segment.id, Segment.document_id, Document.doc_form)
        .join(Document, Document.id == Segment.document_id)
        .where(AmongIds(Segment.id, IDS), live_chunk_condition())
    )


@cache
def _live_child_owners():
    return (
        select(ChildChunk.id, Segment.id, Segment.document_id, Document.doc_form)
        .join(Segment, Segment.id == ChildChunk.segment_id)
        .join(Document, Document.id == Segment.document_id)
        .where(AmongIds(ChildChunk.id, IDS), live_chunk_condition())
    )


@cache
def _live_segments():
    return (
        select(Segment.id, Document.doc_form)
        .join(Document, Document.id == Segment.document_id)
        .where(AmongIds(Segment.id, IDS), live_chunk_condition())
    )


def _owners(session: Session, statement, node_ids: list[str]) -> dict[str, Owner]:
    return {
        node: Owner(segment, document, doc_form == DocForm.QA)
        for node, segment, document, doc_form in rows_at_once(session, statement, {"ids": node_ids})
    }


def live_segments(session: Session, segment_ids: set[str]) -> dict[str, bool]:
    """Those of the segments that searches may return now (the engine also holds chunks of documents
    being indexed, and a document's previous version until its new one is swapped in), each with
    whether it is a Q&A pair."""
    if not segment_ids:
        return {}
    rows = rows_at_once(session, _live_segments(), {"ids": list(segment_ids)})
    return {segment: doc_form == DocForm.QA for segment, doc_form in rows}


def query_embedder(dataset: Dataset) -> Embedder | None:
    """The model that embeds queries for the dataset's vectors, if it has any."""
    if not dataset.vector_collection or not dataset.vector_model:
        return None
    return get_embedder(dataset.vector_model_provider, dataset.vector_model)


def query_vector(dataset: Dataset, query: str) -> np.ndarray | None:
    embedder = query_embedder(dataset)
    return None if embedder is None else query_vectors.get(embedder, query)


class QueryVectorCache:
    """Queries repeat (hit-testing, retries, the same question from many users): each model embeds a
    query once while it stays among the `QUERY_EMBEDDING_CACHE_SIZE` most recent ones. Keyed by the
    embedder itself, which is built once per model and configuration."""

    def __init__(self):
        self._vectors: OrderedDict[tuple[Embedder, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, embedder: Embedder, query: str) -> np.ndarray:
        size, key = get_settings().query_embedding_cache_size, (embedder, query)
        with self._lock:
            if key in self._vectors:
                self._vectors.move_to_end(key)
                return self._vectors[key]
        vector = embedder.embed_query(query)
        vector.setflags(write=False)  # shared between searches
        with self._lock:
            self._vectors[key] = vector
            while len(self._vectors) > size:
                self._vectors.popitem(last=False)
        return vector

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()


query_vectors = QueryVectorCache()


def vector_leg(
    session: Session, dataset: Dataset, vector: np.ndarray | None, limit: int, restriction: Restriction | None
) -> list[NodeHit]:
    """The `limit` most similar live chunks, by cosine similarity (clamped to 0..1). Chunks not live in
    the database are dropped, so the store is asked for a few more than needed, and again deeper in
    the rare case that too many were dropped (a large document being indexed)."""
    if vector is None or dataset.vector_collection is None:
        return []
    depth = limit + VECTOR_OVERFETCH
    while True:
        hits = get_vector_store().search(dataset.vector_collection, vector, depth, restriction)
        live = live_segments(session, {hit.payload["segment_id"] for hit in hits})
        found = [NodeHit(hit.key, _owner(hit.payload, live), _unit(hit.score)) for hit in hits
                 if hit.payload["segment_id"] in live]  # fmt: skip
        if len(found) >= limit or len(hits) < depth:
            return found[:limit]
        depth *= 4


def _owner(payload: dict, standalone: dict[str, bool]) -> Owner:
    segment = payload["segment_id"]
    return Owner(segment, payload["document_id"], standalone[segment])


def vector_scores(dataset: Dataset, vector: np.ndarray | None, node_ids: list[str]) -> dict[str, float]:
    """Cosine of given chunks (found by the keyword leg only) with the query, by the engine."""
    if vector is None or not node_ids or dataset.vector_collection is None:
        return {}
    similarities = get_vector_store().similarities(dataset.vector_collection, vector, node_ids)
    return {node: _unit(similarity) for node, similarity in similarities.items()}


def _unit(score: float) -> float:
    return min(1.0, max(0.0, score))
