"""Fitting the score curves of an embedding model, and measuring how well scores are calibrated.

    python -m bench.calibration [--chunking chunks|abstracts] [--output curves.json]

Fits, on SciFact's *training* queries only, the curves of `retrieval.calibration` for the embedding
model the benchmark's dataset was indexed with (EMBEDDING_* settings, as for `kb serve`): the vector
leg's over the cosines of the chunks the vector leg recalls, the keyword leg's over the normalised
BM25 of those the keyword leg recalls, then the hybrid curve over the default-weighted sum of the
legs' log-odds of each query's first 10 candidates. A chunk counts as relevant when its document
is judged relevant. The output is the SCORE_CALIBRATION_FILE format.
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np

from bench.corpus import load_qrels, load_queries

BINS = 10
FIT_DEPTH = 10  # the records a caller sees and thresholds: the curves are fitted where they are read


def expected_calibration_error(scores: list[float], relevant: list[bool]) -> float:
    """Σ over equal-width score bins of (share of records in the bin) · |mean score − share relevant|."""
    return sum(
        len(members) / len(scores) * abs(mean - rate) for mean, rate, members in reliability(scores, relevant)
    )


def reliability(scores: list[float], relevant: list[bool]) -> list[tuple[float, float, list[int]]]:
    """Per non-empty bin: the mean score, the share relevant, and the records in it."""
    bins: list[list[int]] = [[] for _ in range(BINS)]
    for index, score in enumerate(scores):
        bins[min(int(score * BINS), BINS - 1)].append(index)
    return [
        (
            float(np.mean([scores[i] for i in members])),
            float(np.mean([relevant[i] for i in members])),
            members,
        )
        for members in bins
        if members
    ]


def separation_auc(positives: list[float], negatives: list[float]) -> float:
    """The chance that a positive scores above a negative (ties count half)."""
    pos, neg = np.asarray(positives)[:, None], np.asarray(negatives)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def fit_curves(dataset_id: str) -> dict:
    """The dataset's model's curves, in the SCORE_CALIBRATION_FILE format."""
    from core.database import session_scope
    from core.datasets.models import Dataset
    from core.search.service import DEFAULT_WEIGHTS
    from retrieval.calibration import fit_logistic, weighted_log_odds

    with session_scope() as session:
        dataset = session.get(Dataset, dataset_id)
        judged, model = (
            [_judged_candidates(session, dataset, *item) for item in _training_queries()],
            dataset.vector_model,
        )
    vector = fit_logistic(*_first_records(judged, score=1, rank=3))
    keyword = fit_logistic(*_first_records(judged, score=2, rank=4))

    def evidence_of(row: tuple) -> float:
        return weighted_log_odds(vector.probability(row[1]), keyword.probability(row[2]), *DEFAULT_WEIGHTS)

    evidence = [[(row[0], evidence_of(row)) for row in rows] for rows in judged]
    top = [row for rows in evidence for row in sorted(rows, key=lambda row: -row[1])[:FIT_DEPTH]]
    hybrid = fit_logistic([row[1] for row in top], [row[0] for row in top])
    curves = {"vector": vector, "keyword": keyword, "hybrid": hybrid}
    return {
        model: {name: [round(curve.slope, 4), round(curve.intercept, 4)] for name, curve in curves.items()}
    }


def _training_queries() -> list[tuple[str, set[str]]]:
    queries = load_queries()
    return [(queries[query_id], set(relevant)) for query_id, relevant in load_qrels("train").items()]


def _judged_candidates(session, dataset, query: str, relevant: set[str]) -> list[tuple]:
    """(relevant?, cosine, BM25, vector rank, keyword rank) of each of the hybrid search's candidates."""
    from sqlalchemy import select

    from core.documents.models import Document
    from core.search import legs
    from core.search.hybrid import gather_candidates
    from core.search.timings import SearchTimings

    vector = legs.query_vector(dataset, query)
    found = gather_candidates(session, dataset, query, lambda: vector, 100, None, SearchTimings())
    ids = {hit.owner.document_id for hit in found.hits.values()}
    names = dict(session.execute(select(Document.id, Document.name).where(Document.id.in_(ids))).all())
    vector_ranks = {node: rank for rank, node in enumerate(found.vector_ranking)}
    keyword_ranks = {node: rank for rank, node in enumerate(found.keyword_ranking)}
    return [
        (names[hit.owner.document_id] in relevant, found.cosines.get(node, 0.0), found.bm25[node],
         vector_ranks.get(node, len(found.hits)), keyword_ranks.get(node, len(found.hits)))
        for node, hit in found.hits.items()
    ]  # fmt: skip


def _first_records(judged: list[list[tuple]], score: int, rank: int) -> tuple[list[float], list[bool]]:
    """The (score, relevant?) pairs of each query's first FIT_DEPTH records in one leg's ranking."""
    rows = [row for rows in judged for row in rows if row[rank] < FIT_DEPTH]
    return [row[score] for row in rows], [row[0] for row in rows]


def main() -> None:
    from bench.quality import WORK, bring_up_to_date, prepare

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunking", choices=("chunks", "abstracts"), default="chunks")
    parser.add_argument("--output", type=Path, default=None)
    arguments = parser.parse_args()
    workdir = prepare(arguments.chunking)
    os.environ["KB_DATA_DIR"] = str(workdir / "data")
    bring_up_to_date()
    curves = fit_curves(json.loads((WORK / arguments.chunking / "ingested.json").read_text())["dataset_id"])
    text = json.dumps(curves, indent=2)
    print(text)
    if arguments.output:
        arguments.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
