"""The learned routers' predictor families and the split by prompt: pure, checked by hand and against
scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from routing.learning.families import (
    PredictorError,
    hyperparameters_check,
    predictor_fit,
    predictor_from_state,
)
from routing.learning.training import TrainingError, TrainingSet, split_by_prompt, training_set_check


def unit(rows) -> np.ndarray:
    matrix = np.asarray(rows, dtype=float)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def clustered(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two clusters of prompts: the weak model fails the second, the strong one answers both."""
    rng = np.random.default_rng(seed)
    centres = unit([[1, 0, 0, 0], [0, 1, 0, 0]])
    labels = rng.integers(0, 2, n)
    x = unit(centres[labels] + rng.normal(0, 0.15, (n, 4)))
    y = np.stack([(labels == 0).astype(float), np.ones(n)], axis=1)
    return x, y


def test_knn_predicts_the_similarity_weighted_mean_of_the_k_nearest_qualities():
    x = unit([[1, 0], [0.8, 0.6], [0, 1]])
    y = np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 0.0]])
    predictor = predictor_fit("knn", x, y, ["a", "b"], {"k": 2})
    query = unit([[1, 0.1]])
    sims = x @ query[0]  # 0.995, 0.856, 0.0995: the nearest two for "a" are rows 0 and 1
    expected_a = (sims[0] * 1 + sims[1] * 0) / (sims[0] + sims[1])
    expected_b = (sims[1] * 1 + sims[2] * 0) / (sims[1] + sims[2])  # only rows 1 and 2 know "b"
    assert predictor.predict(query)[0] == pytest.approx([expected_a, expected_b])


def test_the_linear_family_is_scikit_learns_logistic_regression_for_zero_one_qualities():
    x, y = clustered()
    predictor = predictor_fit("linear", x, y[:, :1].repeat(2, axis=1) * [1, 0.5], ["a", "b"], {"c": 2.0})
    reference = LogisticRegression(C=2.0, max_iter=2000).fit(x, y[:, 0])
    assert predictor.predict(x)[:, 0] == pytest.approx(reference.predict_proba(x)[:, 1], abs=1e-9)
    assert predictor.predict(x)[:, 1].max() <= 1.0  # 0 / 0.5 qualities: a ridge regression, clipped


@pytest.mark.parametrize("family", ["knn", "linear", "mf"])
def test_every_family_learns_which_prompts_the_weak_model_fails_and_survives_its_stored_state(family):
    x, y = clustered()
    predictor = predictor_fit(family, x[:150], y[:150], ["weak", "strong"], None)
    gain = predictor.predict(x[150:]) @ np.array([-1.0, 1.0])
    fails = y[150:, 0] == 0
    assert gain[fails].mean() > gain[~fails].mean() + 0.5
    restored = predictor_from_state(predictor.state(), predictor.arrays())
    assert np.array_equal(restored.predict(x[150:]), predictor.predict(x[150:]))
    assert predictor.predict_one(x[0]).keys() == {"weak", "strong"}


def test_a_model_learns_only_from_the_prompts_that_hold_its_quality():
    x, y = clustered()
    y[::2, 0] = np.nan  # half the prompts were served by the strong model alone
    predictor = predictor_fit("knn", x, y, ["weak", "strong"], {"k": 5})
    assert not np.isnan(predictor.predict(x)).any()


def test_hyperparameters_are_checked_by_name_type_and_bounds():
    assert hyperparameters_check("knn", {"k": 7}) == {"k": 7}
    with pytest.raises(PredictorError, match="knn takes the hyperparameters k; not depth"):
        hyperparameters_check("knn", {"depth": 3})
    with pytest.raises(PredictorError, match=r"k must be within \[1, 1000\]; got 0"):
        hyperparameters_check("knn", {"k": 0})
    with pytest.raises(PredictorError, match="k must be an integer"):
        hyperparameters_check("knn", {"k": 2.5})
    with pytest.raises(PredictorError, match="unknown family 'tree'"):
        hyperparameters_check("tree", {})


def data(prompts: int = 50, models=("a", "b")) -> TrainingSet:
    qualities = np.tile(np.linspace(0, 1, len(models)), (prompts, 1))
    return TrainingSet(tuple(f"prompt {n}" for n in range(prompts)), tuple(models), qualities)


def test_the_split_draws_whole_prompts_by_seed_and_is_the_same_every_time():
    first = split_by_prompt(data(), seed=3, heldout_fraction=0.2)
    assert len(first.heldout) == 10 and len(first.train) == 40
    assert set(first.heldout).isdisjoint(first.train)
    assert split_by_prompt(data(), seed=3, heldout_fraction=0.2) == first
    assert split_by_prompt(data(), seed=4, heldout_fraction=0.2).heldout != first.heldout
    reversed_order = TrainingSet(tuple(reversed(data().prompts)), ("a", "b"), data().qualities)
    again = split_by_prompt(reversed_order, seed=3, heldout_fraction=0.2)
    assert {reversed_order.prompts[row] for row in again.heldout} == {
        data().prompts[row] for row in first.heldout
    }


def test_data_with_one_model_or_too_few_items_per_model_is_refused_naming_the_model():
    with pytest.raises(TrainingError, match="at least two; this data has 1 \\(a\\)"):
        training_set_check(data(models=("a",)))
    short = data()
    short.qualities[5:, 1] = np.nan
    with pytest.raises(TrainingError, match="at least 20 prompts with a quality to learn from: b has 5"):
        training_set_check(short)
