"""Hybrid search's candidates: every chunk either leg recalled, with both legs' raw scores."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from core.datasets.models import Dataset
from core.search import legs
from core.search.legs import NodeHit, Owner
from core.search.timings import SearchTimings
from core.settings import get_settings
from retrieval.conditions import Restriction


@dataclass
class Candidates:
    hits: dict[str, NodeHit]
    cosines: dict[str, float]  # every candidate's (found by the keyword leg only: from its stored vector)
    bm25: dict[str, float]  # every candidate's, normalised; 0 where none of the query's terms occur
    vector_ranking: list[str]
    keyword_ranking: list[str]


def keyword_scores(
    session: Session, dataset: Dataset, query: str, restriction: Restriction | None, limit: int,
    owners: dict[str, Owner] | None = None,
) -> dict[str, NodeHit]:  # fmt: skip
    """The keyword leg with the deployment's document blend."""
    weight = get_settings().full_text_document_weight
    return legs.keyword_scores(session, dataset, query, restriction, limit, weight, owners=owners)


def gather_candidates(
    session: Session, dataset: Dataset, query: str, query_vector: Callable[[], np.ndarray | None],
    recall: int, restriction: Restriction | None, timings: SearchTimings,
) -> Candidates:  # fmt: skip
    """Both legs recall `recall` chunks, then every candidate gets both scores. The keyword leg runs
    while the query is being embedded (`query_vector` waits for it)."""
    with timings.measure("keyword_search"):
        keyword = keyword_scores(session, dataset, query, restriction, recall)
        keyword_hits = legs.best_hits(keyword, recall)
    vector = query_vector()
    with timings.measure("vector_search"):
        vector_hits = legs.vector_leg(session, dataset, vector, recall, restriction)
        hits = {hit.node_id: hit for hit in keyword_hits} | {hit.node_id: hit for hit in vector_hits}
        cosines = {hit.node_id: hit.score for hit in vector_hits}
        cosines |= legs.vector_scores(dataset, vector, [node for node in hits if node not in cosines])
    with timings.measure("keyword_search"):
        unscored = {node: hits[node].owner for node in hits if node not in keyword}
        if unscored:
            keyword |= keyword_scores(session, dataset, query, restriction, len(unscored), unscored)
    return Candidates(
        hits,
        cosines,
        {node: keyword[node].score if node in keyword else 0.0 for node in hits},
        [hit.node_id for hit in vector_hits],
        [hit.node_id for hit in keyword_hits],
    )
