"""A search's scores: each leg's raw score and rank, its probability of relevance, and the fused
probability that a record's `score` carries (or the rerank model's score, beside it)."""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from core.datasets.models import Dataset
from core.search.hybrid import Candidates
from core.search.legs import NodeHit
from core.settings import get_settings
from retrieval.calibration import ScoreCalibration, calibration_for_model, read_calibrations
from retrieval.fusion import reciprocal_rank_fusion


@dataclass
class LegScores:
    """Where a record stood before its final score: each leg's raw score (cosine; BM25 over the query's
    upper bound) and rank (1 = first) and the probability of relevance read from that score, None
    where that leg did not search or did not recall it; the fused probability (`retrieval_score`)
    and, after a rerank model, its score (`rerank_score`)."""

    vector_score: float | None = None
    vector_rank: int | None = None
    keyword_score: float | None = None
    keyword_rank: int | None = None
    vector_probability: float | None = None
    keyword_probability: float | None = None
    retrieval_score: float | None = None
    rerank_score: float | None = None


@dataclass
class Scored:
    """Scores by node, the ranking key where it is not the score (reciprocal rank), and each node's
    standing."""

    scores: dict[str, float]
    legs: dict[str, LegScores]
    order: dict[str, float] | None = None


def calibration_of(dataset: Dataset) -> ScoreCalibration:
    """The curves for the model of the dataset's vectors (fitted ones from SCORE_CALIBRATION_FILE
    first, then those shipped with the service)."""
    path = get_settings().score_calibration_file
    return calibration_for_model(dataset.vector_model, _fitted(path) if path else {})


@cache
def _fitted(path: Path) -> dict:
    return read_calibrations(json.loads(path.read_text()))


def score_vector_leg(hits: list[NodeHit], calibration: ScoreCalibration) -> Scored:
    return _single_leg(hits, calibration.vector_probability, "vector")


def score_keyword_leg(hits: list[NodeHit], calibration: ScoreCalibration) -> Scored:
    return _single_leg(hits, calibration.keyword_probability, "keyword")


def _single_leg(hits: list[NodeHit], probability, leg: str) -> Scored:
    scores, standing = {}, {}
    for rank, hit in enumerate(hits, start=1):
        scores[hit.node_id] = chance = probability(hit.score)
        standing[hit.node_id] = LegScores(retrieval_score=chance)
        setattr(standing[hit.node_id], f"{leg}_score", hit.score)
        setattr(standing[hit.node_id], f"{leg}_rank", rank)
        setattr(standing[hit.node_id], f"{leg}_probability", chance)
    return Scored(scores, standing)


def fuse(
    candidates: Candidates, calibration: ScoreCalibration, vector_weight: float, keyword_weight: float,
    rrf_k: int | None = None,
) -> Scored:  # fmt: skip
    """Each candidate's fused probability from both legs' scores. With `rrf_k`, candidates are ranked
    by reciprocal rank instead (the legs' ranks, not their scores) and still carry their fused
    probability with the legs counted equally, so a threshold means the same as in weighted mode."""
    if rrf_k is not None:
        vector_weight = keyword_weight = 0.5
    vector_ranks = {node: rank for rank, node in enumerate(candidates.vector_ranking, start=1)}
    keyword_ranks = {node: rank for rank, node in enumerate(candidates.keyword_ranking, start=1)}
    standing = {}
    for node in candidates.hits:
        cosine, bm25 = candidates.cosines.get(node), candidates.bm25[node]
        vector = None if cosine is None else calibration.vector_probability(cosine)
        keyword = calibration.keyword_probability(bm25)
        fused = keyword if vector is None else calibration.hybrid_probability(
            vector, keyword, vector_weight, keyword_weight
        )  # fmt: skip
        standing[node] = LegScores(
            cosine, vector_ranks.get(node), bm25, keyword_ranks.get(node), vector, keyword, fused
        )
    scores = {node: legs.retrieval_score or 0.0 for node, legs in standing.items()}
    if rrf_k is None:
        return Scored(scores, standing)
    ranked = reciprocal_rank_fusion([candidates.vector_ranking, candidates.keyword_ranking], rrf_k)
    return Scored(scores, standing, order={node: ranked.get(node, 0.0) for node in candidates.hits})
