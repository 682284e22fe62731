"""The search methods the quality benchmark compares, over one indexed dataset, in-process.

Ours go through `core.search.service.search_dataset` exactly as the API does. Baselines are rebuilt
on the same candidates as the hybrid search's:
- the fusion before calibrated scores: each leg min-max scaled over the query's candidates, then
  weighted (the best record scores 1.0 whenever it leads both legs);
- the raw cosine plus the normalised BM25, weighted;
- Dify's weighted-score fusion: keyword score = cosine of TF-IDF vectors of jieba keywords with idf
  over the candidate set only, vector score = the candidate's cosine.
"""

import math
from collections import Counter
from collections.abc import Callable

import numpy as np
from sqlalchemy import select

from core.database import session_scope
from core.datasets.models import Dataset
from core.documents.models import Document
from core.index.embedding_cache import embed_with_cache
from core.index.engines import get_embedder
from core.search import legs
from core.search.hybrid import gather_candidates
from core.search.schemas import KeywordSetting, RetrievalModel, SearchMethod, VectorSetting, Weights
from core.search.service import DEFAULT_WEIGHTS, search_dataset
from core.search.timings import SearchTimings
from core.segments.models import Segment

Method = Callable[[str], list[tuple[str, float]]]
DEPTH = 100
MAX_QUERY = 250
DIFY_WEIGHT_GRID = [0.3, 0.5, 0.7]
BEFORE_WEIGHTS = [0.7, 0.5]  # the default weights before calibrated scores, and the best then


def weight_pair(vector: float) -> str:
    return f"{vector:g}/{round(1 - vector, 2):g}"


def _model(method: SearchMethod, **fields) -> RetrievalModel:
    return RetrievalModel(
        search_method=method, reranking_enable=False, top_k=DEPTH, score_threshold_enabled=False, **fields
    )


def _weights(vector: float) -> Weights:
    return Weights(
        vector_setting=VectorSetting(vector_weight=vector),
        keyword_setting=KeywordSetting(keyword_weight=round(1 - vector, 2)),
    )


class Searcher:
    def __init__(self, dataset_id: str):
        self.dataset_id = dataset_id

    def methods(self, weight_grid: list[float]) -> dict[str, Method]:
        methods: dict[str, Method] = {
            "semantic": self._ours(_model(SearchMethod.SEMANTIC)),
            "full-text (BM25)": self._ours(_model(SearchMethod.FULL_TEXT)),
            "hybrid RRF k=60": self._ours(_model(SearchMethod.HYBRID, reranking_mode="rrf", rrf_k=60)),
        }
        for vector in weight_grid:
            model = _model(SearchMethod.HYBRID, reranking_mode="weighted_score", weights=_weights(vector))
            methods[f"hybrid weighted {weight_pair(vector)}"] = self._ours(model)
        for vector in BEFORE_WEIGHTS:
            methods[f"before: min-max fusion {weight_pair(vector)}"] = self._fused(_min_max_fusion(vector))
        methods[f"raw cosine + BM25 {weight_pair(DEFAULT_WEIGHTS[0])}"] = self._fused(_raw_sum)
        for vector in DIFY_WEIGHT_GRID:
            methods[f"Dify weighted fusion {weight_pair(vector)}"] = self._dify(vector)
        return methods

    def _fused(self, fusion: Callable[[dict, dict], dict[str, float]]) -> Method:
        """A fusion of ours rebuilt on the hybrid search's candidates, with the default weights."""

        def search(query: str) -> list[tuple[str, float]]:
            with session_scope() as session:
                dataset = session.get(Dataset, self.dataset_id)
                vector = legs.query_vector(dataset, query)
                found = gather_candidates(
                    session, dataset, query, lambda: vector, DEPTH, None, SearchTimings()
                )
                scores = fusion(found.cosines, found.bm25)
                names = _document_names(session, {found.hits[node].owner.document_id for node in scores})
                best = sorted(scores, key=lambda node: -scores[node])[:DEPTH]
                return [(names[found.hits[node].owner.document_id], scores[node]) for node in best]

        return search

    def _ours(self, model: RetrievalModel) -> Method:
        def search(query: str) -> list[tuple[str, float]]:
            with session_scope() as session:
                dataset = session.get(Dataset, self.dataset_id)
                outcome = search_dataset(session, dataset, query[:MAX_QUERY], model)
                return [(result.document.name, result.score) for result in outcome.results]

        return search

    def _dify(self, vector_weight: float) -> Method:
        def search(query: str) -> list[tuple[str, float]]:
            with session_scope() as session:
                dataset = session.get(Dataset, self.dataset_id)
                vector_hits = legs.vector_leg(
                    session, dataset, legs.query_vector(dataset, query), DEPTH, None
                )
                keyword_hits = legs.keyword_leg(session, dataset, query, DEPTH, None)
                candidates = {hit.segment_id for hit in vector_hits + keyword_hits}
                rows = session.execute(
                    select(Segment.id, Segment.content, Document.name)
                    .join(Document, Document.id == Segment.document_id)
                    .where(Segment.id.in_(candidates))
                ).all()
                vector_scores = {hit.segment_id: hit.score for hit in vector_hits}
                missing = [row for row in rows if row.id not in vector_scores]
                if missing:
                    vector_scores |= _cosines(session, dataset, query, missing)
                keyword_scores = _tfidf_cosines(query, {row.id: row.content for row in rows})
                names = {row.id: row.name for row in rows}
                fused = {
                    sid: vector_weight * vector_scores[sid] + (1 - vector_weight) * keyword_scores[sid]
                    for sid in names
                }
                return [(names[sid], fused[sid]) for sid in sorted(fused, key=lambda sid: -fused[sid])]

        return search


def _min_max(scores: dict[str, float]) -> dict[str, float]:
    low, high = min(scores.values(), default=0.0), max(scores.values(), default=0.0)
    return {node: 1.0 if high == low else (score - low) / (high - low) for node, score in scores.items()}


def _min_max_fusion(weight: float) -> Callable[[dict, dict], dict[str, float]]:
    def fusion(cosines: dict[str, float], bm25: dict[str, float]) -> dict[str, float]:
        vector, keyword = _min_max(cosines), _min_max(bm25)
        return {node: weight * vector.get(node, 0.0) + (1 - weight) * keyword.get(node, 0.0) for node in bm25}

    return fusion


def _raw_sum(cosines: dict[str, float], bm25: dict[str, float]) -> dict[str, float]:
    weight, other = DEFAULT_WEIGHTS
    return {node: weight * cosines.get(node, 0.0) + other * bm25[node] for node in bm25}


def _document_names(session, document_ids: set[str]) -> dict[str, str]:
    return dict(
        session.execute(select(Document.id, Document.name).where(Document.id.in_(document_ids))).all()
    )


def _cosines(session, dataset, query: str, rows) -> dict[str, float]:
    embedder = get_embedder(dataset.embedding_model_provider, dataset.embedding_model)
    query_vector = embedder.embed_query(query)
    vectors, _ = embed_with_cache(session, embedder, [row.content for row in rows])
    return {row.id: float(np.dot(vector, query_vector)) for row, vector in zip(rows, vectors, strict=True)}


def _keywords(text: str) -> list[str]:
    import jieba.analyse

    return jieba.analyse.extract_tags(text, topK=10)


def _tfidf_cosines(query: str, texts: dict[str, str]) -> dict[str, float]:
    keywords = {sid: _keywords(text) for sid, text in texts.items()}
    document_frequency = Counter(term for terms in keywords.values() for term in set(terms))
    total = len(texts)

    def vector(terms: list[str]) -> dict[str, float]:
        counts = Counter(terms)
        return {
            term: count
            * (math.log((1 + total) / (1 + document_frequency[term])) + 1 if document_frequency[term] else 0)
            for term, count in counts.items()
        }

    query_vector = vector(_keywords(query))
    scores = {}
    for sid, terms in keywords.items():
        candidate = vector(terms)
        dot = sum(weight * candidate.get(term, 0.0) for term, weight in query_vector.items())
        norm = math.sqrt(sum(w * w for w in query_vector.values())) * math.sqrt(
            sum(w * w for w in candidate.values())
        )
        scores[sid] = dot / norm if norm else 0.0
    return scores
