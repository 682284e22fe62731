"""Merging the two legs of hybrid search: relative-score weighting and reciprocal-rank fusion."""

from collections.abc import Mapping

DEFAULT_RRF_K = 60


def min_max(scores: Mapping[str, float]) -> dict[str, float]:
    """Scales a leg's scores to 0..1 over its candidates (all equal scores become 1)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high == low:
        return {key: 1.0 for key in scores}
    return {key: (value - low) / (high - low) for key, value in scores.items()}


def weighted_fusion(
    vector: Mapping[str, float], keyword: Mapping[str, float], vector_weight: float, keyword_weight: float
) -> dict[str, float]:
    """vector_weight · vector + keyword_weight · keyword over min-max-normalised legs; a candidate
    missing from a leg scores 0 there."""
    vector, keyword = min_max(vector), min_max(keyword)
    return {
        key: vector_weight * vector.get(key, 0.0) + keyword_weight * keyword.get(key, 0.0)
        for key in vector.keys() | keyword.keys()
    }


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = DEFAULT_RRF_K) -> dict[str, float]:
    """Σ 1/(k + rank) over the legs, scaled by its maximum (first in every leg) into 0..1."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    best = len(rankings) / (k + 1)
    return {key: score / best for key, score in fused.items()}
