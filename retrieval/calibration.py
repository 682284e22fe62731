"""Scores as probabilities of relevance, so that one score threshold means the same in every query,
dataset and search method.

Each leg's raw score goes through a logistic curve, p = σ(slope · score + intercept):
- the vector leg's cosine, with a curve per embedding model (a cosine of 0.5 is a strong match for one
  model and a weak one for another);
- the keyword leg's BM25, already divided by the query's upper bound (every query term at saturation),
  so the curve does not depend on the query; the bound carries the corpus's statistics (idf).
Hybrid search adds the legs' log-odds, each times its weight, and passes the sum through a last curve
that restores calibration: two legs that agree are stronger evidence than either alone.

The curves are fitted by `fit_logistic` on judged (score, relevant) pairs; the default model's are
fitted on the training queries of a public benchmark and kept in `DEFAULT_CALIBRATIONS`.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Probabilities stay this far from 0 and 1, so their log-odds stay finite.
EPSILON = 1e-6


def sigmoid(log_odds: float) -> float:
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    odds = math.exp(log_odds)
    return odds / (1.0 + odds)


def logit(probability: float) -> float:
    probability = min(1.0 - EPSILON, max(EPSILON, probability))
    return math.log(probability / (1.0 - probability))


@dataclass(frozen=True)
class Logistic:
    """p = σ(slope · score + intercept)."""

    slope: float
    intercept: float

    def log_odds(self, score: float) -> float:
        return self.slope * score + self.intercept

    def probability(self, score: float) -> float:
        return sigmoid(self.log_odds(score))


def fit_logistic(scores: Sequence[float], relevant: Sequence[bool], *, ridge: float = 1e-4) -> Logistic:
    """The maximum-likelihood curve through judged pairs (Newton's method; `ridge` keeps it finite when
    the pairs separate perfectly)."""
    x = np.column_stack([np.asarray(scores, dtype=float), np.ones(len(scores))])
    y = np.asarray(relevant, dtype=float)
    weights = np.zeros(2)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(x @ weights)))
        gradient = x.T @ (p - y) + ridge * weights
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-9:
            break
    return Logistic(float(weights[0]), float(weights[1]))


def weighted_log_odds(vector: float, keyword: float, vector_weight: float, keyword_weight: float) -> float:
    """The legs' log-odds weighted by how much each leg counts (the weights scaled to sum to 1): what
    the hybrid curve reads."""
    total = vector_weight + keyword_weight
    if total <= 0:
        vector_weight = keyword_weight = total = 1.0
    return (vector_weight * logit(vector) + keyword_weight * logit(keyword)) / total


@dataclass(frozen=True)
class ScoreCalibration:
    """The curves of one embedding model's datasets. `vector` is None for a model nobody has fitted:
    its cosine (clamped to 0..1) is then read as the probability, as uncalibrated services do."""

    vector: Logistic | None
    keyword: Logistic
    hybrid: Logistic

    def vector_probability(self, cosine: float) -> float:
        if self.vector is None:
            return min(1.0, max(0.0, cosine))
        return self.vector.probability(cosine)

    def keyword_probability(self, bm25: float) -> float:
        return self.keyword.probability(bm25)

    def hybrid_probability(
        self, vector: float, keyword: float, vector_weight: float, keyword_weight: float
    ) -> float:
        """From the legs' probabilities: their weighted log-odds through the hybrid curve."""
        return self.hybrid.probability(weighted_log_odds(vector, keyword, vector_weight, keyword_weight))


# Fitted by bench/calibration.py on the training queries of BEIR SciFact, 500-character chunks, each
# curve over the first 10 records of its ranking (where callers read scores and set thresholds). For
# another model, fit its curves the same way and name them in SCORE_CALIBRATION_FILE.
KEYWORD = Logistic(9.8744, -4.2327)
DEFAULT_CALIBRATIONS: dict[str, ScoreCalibration] = {
    "all-MiniLM-L6-v2": ScoreCalibration(
        vector=Logistic(8.2691, -6.1658), keyword=KEYWORD, hybrid=Logistic(1.1169, 0.5538)
    ),
}
# A model nobody has fitted: its cosine is the vector leg's probability, and hybrid adds the legs'
# log-odds as they are.
UNFITTED = ScoreCalibration(vector=None, keyword=KEYWORD, hybrid=Logistic(1.0, 0.0))


def calibration_for_model(model: str | None, fitted: dict[str, ScoreCalibration]) -> ScoreCalibration:
    """The curves for an embedding model: those fitted by the deployment, else those shipped, else
    `UNFITTED` (also for datasets without vectors, whose keyword curve is the same everywhere)."""
    if model is None:
        return UNFITTED
    return fitted.get(model) or DEFAULT_CALIBRATIONS.get(model) or UNFITTED


def read_calibrations(document: dict[str, dict[str, list[float]]]) -> dict[str, ScoreCalibration]:
    """Curves from a calibration file: `{model: {"vector": [slope, intercept], "keyword": [...],
    "hybrid": [...]}}`; a curve left out is the shipped one."""
    calibrations = {}
    for model, curves in document.items():
        base = DEFAULT_CALIBRATIONS.get(model, UNFITTED)
        calibrations[model] = ScoreCalibration(
            vector=Logistic(*curves["vector"]) if "vector" in curves else base.vector,
            keyword=Logistic(*curves["keyword"]) if "keyword" in curves else base.keyword,
            hybrid=Logistic(*curves["hybrid"]) if "hybrid" in curves else base.hybrid,
        )
    return calibrations
