"""Reciprocal-rank fusion: merging ranked lists by their ranks alone."""

DEFAULT_RRF_K = 60


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = DEFAULT_RRF_K) -> dict[str, float]:
    """Σ 1/(k + rank) over the lists that hold each key. A ranking key, not a probability: a first
    place in every list gives the same value whatever the query."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused
