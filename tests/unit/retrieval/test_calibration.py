"""Scores as probabilities: the curve fit, the fusion of the legs' log-odds, the curves' file."""

import math
import random

import pytest

from retrieval.calibration import (
    DEFAULT_CALIBRATIONS,
    UNFITTED,
    Logistic,
    ScoreCalibration,
    calibration_for_model,
    fit_logistic,
    logit,
    read_calibrations,
    sigmoid,
)


def test_the_fit_finds_the_curve_that_made_the_judgements():
    truth = Logistic(9.0, -5.0)
    draw = random.Random(7)
    scores = [draw.random() for _ in range(20_000)]
    relevant = [draw.random() < truth.probability(score) for score in scores]
    fitted = fit_logistic(scores, relevant)
    assert fitted.slope == pytest.approx(9.0, rel=0.05) and fitted.intercept == pytest.approx(-5.0, rel=0.05)


def test_perfectly_separated_judgements_still_give_a_finite_curve():
    fitted = fit_logistic([0.1, 0.2, 0.8, 0.9], [False, False, True, True])
    assert math.isfinite(fitted.slope) and fitted.slope > 0
    assert fitted.probability(0.9) > 0.9 and fitted.probability(0.1) < 0.1


def test_sigmoid_and_logit_are_inverse_and_stable_at_the_extremes():
    for value in (-8.0, -2.0, 0.0, 1.5, 8.0):
        assert logit(sigmoid(value)) == pytest.approx(value, abs=1e-6)
    assert sigmoid(-1000) == 0.0 and sigmoid(1000) == 1.0
    # certainty is held just short of 0 and 1, so log-odds stay finite in a fusion
    assert logit(1.0) == pytest.approx(-logit(0.0)) == pytest.approx(math.log((1 - 1e-6) / 1e-6))


def test_hybrid_weights_say_how_much_each_leg_counts():
    calibration = ScoreCalibration(Logistic(8.0, -6.0), Logistic(10.0, -4.0), Logistic(1.0, 0.0))
    # with all the weight on one leg, hybrid is that leg's probability
    assert calibration.hybrid_probability(0.8, 0.1, 1.0, 0.0) == pytest.approx(0.8)
    assert calibration.hybrid_probability(0.8, 0.1, 0.0, 1.0) == pytest.approx(0.1)
    # equal weights: the mean of the log-odds; weights that do not sum to 1 are scaled
    assert calibration.hybrid_probability(0.8, 0.1, 0.5, 0.5) == pytest.approx(
        sigmoid((logit(0.8) + logit(0.1)) / 2)
    )
    assert calibration.hybrid_probability(0.8, 0.1, 2, 2) == calibration.hybrid_probability(
        0.8, 0.1, 0.5, 0.5
    )


def test_a_query_nothing_answers_scores_low_in_every_method():
    """A first record that leads both legs no longer scores 1.0: with a cosine of 0.15 and no keyword
    match, the default model's curves say the chunk is almost surely irrelevant."""
    curves = DEFAULT_CALIBRATIONS["all-MiniLM-L6-v2"]
    vector, keyword = curves.vector_probability(0.15), curves.keyword_probability(0.0)
    assert vector < 0.02 and keyword < 0.02
    assert curves.hybrid_probability(vector, keyword, 0.45, 0.55) < 0.02
    # while a strong match on both legs is more likely relevant than not
    strong = curves.hybrid_probability(
        curves.vector_probability(0.8), curves.keyword_probability(0.6), 0.45, 0.55
    )
    assert strong > 0.5


def test_models_without_curves_read_their_cosine_as_the_probability():
    assert calibration_for_model("text-embedding-3-small", {}) is UNFITTED
    assert calibration_for_model(None, {}) is UNFITTED
    assert UNFITTED.vector_probability(0.42) == 0.42 and UNFITTED.vector_probability(-0.1) == 0.0


def test_fitted_curves_from_a_file_win_and_fill_in_the_shipped_ones():
    fitted = read_calibrations(
        {"all-MiniLM-L6-v2": {"vector": [5.0, -3.0]}, "my-model": {"hybrid": [2.0, 0.5]}}
    )
    mini = calibration_for_model("all-MiniLM-L6-v2", fitted)
    assert mini.vector == Logistic(5.0, -3.0)
    assert mini.keyword == DEFAULT_CALIBRATIONS["all-MiniLM-L6-v2"].keyword
    assert mini.hybrid == DEFAULT_CALIBRATIONS["all-MiniLM-L6-v2"].hybrid
    mine = calibration_for_model("my-model", fitted)
    assert mine.vector is None and mine.hybrid == Logistic(2.0, 0.5)
