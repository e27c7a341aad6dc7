"""The `hybrid` kind: hard filters, then a selector."""

import pytest

from routing.policies import ModelStats, NoEligibleModel, compile_policy
from routing.policies.hybrid import Profile, balanced_scores
from tests.routing.policies.catalog import BY_KEY, context, example, request, spec_error

THOUSAND = request("Plan my week", input_tokens=1000)
STATS = {
    "sim/cheap": ModelStats(300, 900, 0.99, 500),
    "sim/mid": ModelStats(700, 1500, 0.99, 500),
    "sim/premium": ModelStats(2500, 6000, 0.99, 500),
}


def hybrid(**fields):
    return compile_policy({"kind": "hybrid", **fields})


def test_a_60000_token_prompt_goes_only_to_models_whose_context_window_fits_it():
    prompt = request("Summarise the attached contract. " * 8000, input_tokens=60_000, max_output_tokens=1000)

    decision = hybrid(selector="cost", max_fallbacks=10).decide(prompt, context())

    assert decision.model == "sim/cheap"
    assert decision.fallbacks == ("sim/mid", "sim/premium")
    for key in (decision.model, *decision.fallbacks):
        assert BY_KEY[key].context_window >= 61_000
    assert "sim/cheap-8k (context window 8,192 < 61,000 tokens needed)" in decision.trace[0]


def test_the_60000_token_rule_holds_for_every_selector():
    prompt = request("x", input_tokens=60_000)
    for selector in ("quality", "cost", "latency", "balanced"):
        decision = hybrid(selector=selector, max_fallbacks=10).decide(prompt, context(stats=STATS))
        assert {decision.model, *decision.fallbacks} <= {"sim/cheap", "sim/mid", "sim/premium"}


def test_capability_filters_keep_only_models_with_every_capability():
    decision = hybrid(filters={"capabilities": ["vision", "json_mode"]}, selector="cost").decide(
        THOUSAND, context()
    )

    assert (decision.model, decision.fallbacks) == ("sim/cheap", ("sim/mid", "sim/premium"))
    assert "sim/mid-32k (no vision, json_mode)" in decision.trace[0]


def test_min_context_filters_small_windows_even_for_small_prompts():
    decision = hybrid(filters={"min_context": 100_000}, selector="cost").decide(THOUSAND, context())

    assert "sim/cheap-8k" not in (decision.model, *decision.fallbacks)


def test_max_cost_per_call_filters_expensive_models():
    decision = hybrid(filters={"max_cost_per_call": 0.01}, selector="quality", max_fallbacks=10).decide(
        THOUSAND, context()
    )

    assert decision.model == "sim/mid"
    assert set(decision.fallbacks) == {"sim/mid-32k", "sim/cheap", "sim/cheap-8k"}


def test_max_latency_filters_slow_models_and_passes_unmeasured_ones():
    decision = hybrid(
        models=["sim/cheap", "sim/mid", "sim/premium", "sim/mid-32k"],
        filters={"max_latency_ms": 1000},
        selector="quality",
    ).decide(THOUSAND, context(stats=STATS))

    assert decision.model == "sim/mid"
    assert "sim/premium" not in decision.fallbacks
    assert "sim/mid-32k" in decision.fallbacks
    assert "sim/premium (latency 2500ms > 1000ms)" in decision.trace[0]


def test_min_quality_filters_low_estimates():
    decision = hybrid(filters={"min_quality": 0.9}, selector="cost").decide(THOUSAND, context())

    assert (decision.model, decision.fallbacks) == ("sim/premium-16k", ("sim/premium",))


@pytest.mark.parametrize(
    ("selector", "model"),
    [
        ("quality", "sim/premium"),
        ("cost", "sim/cheap-8k"),
        ("latency", "sim/cheap"),
        ("balanced", "sim/mid"),
    ],
)
def test_each_selector_ranks_by_its_own_measure(selector, model):
    assert hybrid(selector=selector).decide(THOUSAND, context(stats=STATS)).model == model


def test_balanced_weights_shift_the_choice_toward_quality():
    quality_heavy = hybrid(selector="balanced", weights={"quality": 1.0, "cost": 0.05, "latency": 0.0})

    decision = quality_heavy.decide(THOUSAND, context(stats=STATS))

    assert decision.model == "sim/premium"
    assert decision.trace[-2].startswith("6 model(s) pass the filters")
    assert any(line.startswith("balanced scores: ") for line in decision.trace)


def test_models_restricts_the_pool():
    decision = hybrid(models=["sim/mid", "sim/premium"], selector="cost").decide(THOUSAND, context())

    assert (decision.model, decision.fallbacks) == ("sim/mid", ("sim/premium",))


def test_when_nothing_passes_the_filters_no_eligible_model_names_every_reason():
    with pytest.raises(NoEligibleModel) as caught:
        hybrid(models=["sim/cheap-8k", "sim/mid"], filters={"min_quality": 0.9}).decide(
            request("doc", input_tokens=10_000), context()
        )

    assert caught.value.reasons == {
        "sim/cheap-8k": "context window 8,192 < 10,000 tokens needed",
        "sim/mid": "quality 0.86 < 0.9",
    }
    assert "no model passes the hybrid filters" in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"filters": {"capabilities": ["tools", "telepathy"]}}, "filters.capabilities[1]", "must be one of"),
        ({"filters": {"max_context": 5}}, "filters.max_context", "unknown key"),
        ({"filters": {"min_context": 0}}, "filters.min_context", "at least 1"),
        ({"filters": {"max_cost_per_call": -1}}, "filters.max_cost_per_call", "at least 0.0"),
        ({"filters": {"min_quality": 3}}, "filters.min_quality", "at most 1.0"),
        ({"selector": "vibes"}, "selector", "must be one of"),
        ({"selector": "cost", "weights": {"cost": 1}}, "weights", "only apply to the 'balanced' selector"),
        ({"weights": {"quality": 0, "cost": 0, "latency": 0}}, "weights", "above 0"),
        ({"weights": {"speed": 1}}, "weights.speed", "unknown key"),
        ({"models": []}, "models", "must not be empty"),
    ],
)
def test_a_bad_hybrid_spec_is_reported_with_its_path(changes, path, words):
    error = spec_error(example("hybrid", **changes))

    assert error.path == path
    assert words in error.message


def test_balanced_scores_match_a_hand_computed_reference():
    a, b, c = (BY_KEY[key] for key in ("sim/cheap", "sim/mid", "sim/premium"))
    profiles = [Profile(a, 1.0, 1.0, 100.0), Profile(b, 3.0, 0.0, 300.0), Profile(c, 2.0, 0.5, None)]

    scores = balanced_scores(profiles, {"quality": 0.5, "cost": 0.3, "latency": 0.2})

    # a: 0.5*1 + 0.3*(1-0) + 0.2*(1-0); b: 0 + 0.3*(1-1) + 0.2*(1-1)
    # c: 0.5*0.5 + 0.3*(1-0.5) + 0 (no latency measured)
    assert scores == {"sim/cheap": 1.0, "sim/mid": 0.0, "sim/premium": 0.4}
