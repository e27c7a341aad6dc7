"""The `cost_aware` kind: the cheapest model reaching the quality bar within the remaining budget.

Estimated costs of a 1,000-token request with 300 output tokens in the catalogue (USD):
cheap-8k 0.00022, cheap 0.00033, mid-32k 0.0022, mid 0.0055, premium-16k 0.019, premium 0.0375.
"""

import pytest

from routing.policies import Candidate, compile_policy
from tests.routing.policies.catalog import CHEAP, EXAMPLES, context, example, request, spec_error

THOUSAND = request("Summarise our refund policy", input_tokens=1000)


def decide(budget=None, req=THOUSAND, **changes):
    return compile_policy(example("cost_aware", **changes)).decide(req, context(budget_remaining=budget))


def test_the_cheapest_model_reaching_the_quality_bar_serves():
    decision = decide()

    assert decision.model == "sim/mid-32k"
    assert "4 model(s) reach quality 0.8; cheapest within no budget limit: sim/mid-32k" in decision.trace[0]


def test_fallbacks_are_the_other_qualifying_models_by_cost():
    assert decide().fallbacks == ("sim/mid", "sim/premium-16k", "sim/premium")


def test_the_spec_s_quality_estimates_override_the_registry_s():
    assert decide(quality={"sim/mid-32k": 0.5}).model == "sim/mid"


def test_a_model_without_any_quality_estimate_never_qualifies():
    unknown = Candidate("sim/unknown", "cheap", 0.01, 0.01, 128_000, 4096)
    policy = compile_policy(EXAMPLES["cost_aware"])

    decision = policy.decide(THOUSAND, context(candidates=(unknown, CHEAP, *context().candidates[2:])))

    assert decision.model == "sim/mid-32k"
    assert "sim/unknown" not in decision.fallbacks


def test_the_budget_rules_out_models_it_cannot_pay_for():
    decision = decide(budget=0.03, min_quality=0.9)

    assert decision.model == "sim/premium-16k"
    assert decision.fallbacks == ()
    assert "budget left $0.030000" in decision.trace[0]


def test_when_the_budget_fits_no_qualifying_model_it_forces_the_cheapest_eligible_one():
    decision = decide(budget=0.01, min_quality=0.9)

    assert decision.model == "sim/cheap-8k"
    assert "the budget forced the cheapest eligible model sim/cheap-8k (est. $0.000220)" in decision.trace[0]
    assert decision.fallbacks == ("sim/cheap", "sim/mid-32k", "sim/mid")


def test_the_budget_forced_choice_still_fits_the_request():
    decision = decide(budget=0.0, min_quality=0.9, req=request("doc", input_tokens=20_000))

    assert decision.model == "sim/cheap"


def test_the_request_s_max_output_caps_the_expected_output_in_the_estimate():
    decision = decide(req=request("short", input_tokens=1000, max_output_tokens=10), min_quality=0.6)

    assert "sim/cheap-8k (quality 0.65, est. $0.000104)" in decision.trace[0]


def test_when_no_model_reaches_the_bar_the_best_estimate_within_budget_serves():
    assert decide(min_quality=0.99).model == "sim/premium"
    decision = decide(min_quality=0.99, budget=0.02)

    assert decision.model == "sim/premium-16k"
    assert "no eligible model has a quality estimate >= 0.99" in decision.trace[0]


def test_models_limits_the_pool():
    assert decide(models=["sim/mid", "sim/premium"]).model == "sim/mid"


def test_a_pool_that_cannot_fit_the_request_raises_no_eligible_model():
    from routing.policies import NoEligibleModel

    with pytest.raises(NoEligibleModel, match="sim/cheap-8k: context window 8,192 < 20,000"):
        decide(models=["sim/cheap-8k"], req=request("doc", input_tokens=20_000))


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"min_quality": 1.2}, "min_quality", "at most 1.0"),
        ({"min_quality": None}, "min_quality", "required"),
        ({"quality": {"sim/mid": "high"}}, "quality.sim/mid", "must be a number"),
        ({"quality": {"sim/mid": 1.5}}, "quality.sim/mid", "at most 1.0"),
        ({"expected_output_tokens": 0}, "expected_output_tokens", "at least 1"),
        ({"models": []}, "models", "must not be empty"),
    ],
)
def test_a_bad_cost_aware_spec_is_reported_with_its_path(changes, path, words):
    error = spec_error(example("cost_aware", **changes))

    assert error.path == path
    assert words in error.message
