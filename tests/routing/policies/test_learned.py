"""`learned`: a trained router's predicted qualities choose the model, by threshold, quality bar or value."""

from __future__ import annotations

import numpy as np
import pytest

from routing.learning.families import predictor_fit
from routing.policies import compile_policy
from routing.policies.learned import router_model_for
from tests.routing.policies.catalog import (
    ALL,
    CHEAP,
    EXAMPLES,
    MID,
    PREMIUM,
    context,
    example,
    request,
    spec_error,
)

# Two prompt directions: along x the cheap model is as good as the premium one, along y it fails.
EASY, HARD = [1.0, 0.0], [0.0, 1.0]


def embedder(texts):
    return [HARD if "prove" in text else EASY for text in texts]


def router(names=("sim/cheap", "sim/mid", "sim/premium")):
    x = np.array([EASY] * 10 + [HARD] * 10)
    y = np.array([[1.0, 1.0, 1.0]] * 10 + [[0.0, 0.6, 1.0]] * 10)
    return predictor_fit("knn", x, y[:, : len(names)], names, {"k": 3})


def decide(spec, text, **fields):
    fields.setdefault("router", router())
    fields.setdefault("embed", embedder)
    return compile_policy(spec).decide(request(text), context(**fields))


def test_the_strong_model_serves_when_its_predicted_gain_reaches_the_threshold():
    easy, hard = decide(EXAMPLES["learned"], "hello"), decide(EXAMPLES["learned"], "prove it")
    assert easy.model == CHEAP.key and easy.score == pytest.approx(0.0)
    assert hard.model == PREMIUM.key and hard.score == pytest.approx(1.0)
    assert (
        "predicted quality (support-knn@v1): sim/cheap 0.00, sim/premium 1.00 -> gain +1.000 >= threshold"
        in (" ".join(hard.trace))
    )
    assert hard.fallbacks == (CHEAP.key,)  # only the models the spec names


def test_min_quality_takes_the_cheapest_model_predicted_to_reach_it():
    spec = example("learned", threshold=None, models=[CHEAP.key, MID.key, PREMIUM.key], min_quality=0.5)
    assert decide(spec, "hello").model == CHEAP.key
    assert decide(spec, "prove it").model == MID.key
    assert decide({**spec, "min_quality": 0.99}, "prove it").model == PREMIUM.key


def test_cost_weight_trades_predicted_quality_against_the_estimated_cost():
    spec = example("learned", threshold=None, models=[CHEAP.key, MID.key, PREMIUM.key], cost_weight=0.0)
    assert decide(spec, "prove it").model == PREMIUM.key  # quality alone
    assert decide({**spec, "cost_weight": 1e6}, "prove it").model == CHEAP.key  # cost alone


def test_without_a_router_or_with_a_failing_embedder_the_last_listed_model_serves():
    assert decide(EXAMPLES["learned"], "hello", router=None).model == PREMIUM.key

    def broken(texts):
        raise RuntimeError("no model")

    decision = decide(EXAMPLES["learned"], "hello", embed=broken)
    assert decision.model == PREMIUM.key
    assert "prediction failed (RuntimeError: no model)" in " ".join(decision.trace)


def test_a_registry_key_matches_the_router_model_of_the_same_name_or_of_its_model_id():
    assert router_model_for("replay/gpt-4", ["gpt-4", "mixtral"]) == "gpt-4"
    assert router_model_for("sim/cheap", ["sim/cheap"]) == "sim/cheap"
    assert router_model_for("sim/other", ["gpt-4"]) is None
    assert compile_policy(EXAMPLES["learned"]).unmatched_models(["gpt-4", "cheap"]) == ["sim/premium"]


def test_the_spec_names_its_mode_once_and_a_threshold_chooses_between_two_models():
    assert "exactly one of threshold" in spec_error(example("learned", threshold=None)).message
    assert "exactly one of threshold" in spec_error(example("learned", min_quality=0.5)).message
    error = spec_error(example("learned", models=[c.key for c in ALL[:3]]))
    assert error.path == "models" and "two models" in error.message
    assert spec_error(example("learned", threshold=2)).path == "threshold"
