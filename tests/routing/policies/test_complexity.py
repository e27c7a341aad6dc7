"""The `complexity` kind: a heuristic score cut into simple / moderate / complex."""

import pytest

from routing.policies import compile_policy, score_complexity
from tests.routing.policies.catalog import EXAMPLES, context, example, request, spec_error

POLICY = compile_policy(EXAMPLES["complexity"])
CODE_PROMPT = """Why does this fail?

```python
def total(items):
    return sum(item.price for item in items
```
"""


def tier_of(text, **fields):
    return POLICY.decide(request(text, **fields), context())


def test_the_capital_of_france_goes_to_the_simple_tier():
    decision = tier_of("What is the capital of France?")

    assert decision.tier == "simple"
    assert decision.model == "sim/cheap-8k"


def test_a_prompt_with_a_code_block_goes_to_the_complex_tier():
    decision = tier_of(CODE_PROMPT)

    assert decision.tier == "complex"
    assert decision.model == "sim/premium-16k"
    assert "code 1.00" in decision.trace[0]


def test_indented_code_counts_as_a_code_block():
    text = "What does this print?\n\n    for i in range(3):\n        print(i * 2)\n"

    assert tier_of(text).tier == "complex"


def test_an_indented_quote_without_code_characters_is_not_code():
    assert score_complexity("Dear team,\n    thanks again\n    for all the help\n", 10).signals["code"] == 0


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("Hi! How are you today?", "simple"),
        ("Translate 'good morning' into Spanish.", "simple"),
        ("Please debug my login flow, it fails sometimes.", "moderate"),
        ("Implement an LRU cache and analyze its complexity step by step.", "complex"),
        ("Prove that the square root of 2 is irrational.", "moderate"),
        ("Derive the integral of x^2 sin(x) and prove the result.", "complex"),
        ("What is a mutex? When should I use one? How is it different from a semaphore?", "moderate"),
    ],
)
def test_keywords_questions_and_maths_raise_the_tier(text, tier):
    assert tier_of(text).tier == tier


def test_keywords_match_their_inflections():
    assert score_complexity("I'm optimizing and refactored the parser", 10).keywords == (
        "optimizing",
        "refactored",
    )


def test_a_long_prompt_alone_is_moderate_not_complex():
    decision = tier_of("Summarise this report. " * 2000, input_tokens=9000)

    assert decision.tier == "moderate"


def test_a_feature_override_beats_the_score():
    decision = tier_of("Looks good?", feature="code-review")

    assert decision.tier == "complex"
    assert "feature 'code-review' overrides the tier: complex" in decision.trace


def test_the_decision_carries_the_score_for_threshold_sweeps():
    text = "Please debug my login flow."
    decision = tier_of(text)

    assert decision.score == score_complexity(text, request(text).input_tokens).value
    assert 0.0 <= decision.score <= 1.0


def test_moving_the_cut_points_moves_the_tier():
    text = "Please debug my login flow."
    strict = compile_policy(example("complexity", thresholds={"moderate": 0.5, "complex": 0.9}))
    lax = compile_policy(example("complexity", thresholds={"moderate": 0.1, "complex": 0.3}))

    assert strict.decide(request(text), context()).tier == "simple"
    assert tier_of(text).tier == "moderate"
    assert lax.decide(request(text), context()).tier == "complex"


def test_custom_keywords_replace_the_defaults():
    policy = compile_policy(example("complexity", keywords=["contract", "liability"]))

    assert policy.decide(request("Review the liability clause"), context()).tier == "moderate"
    assert policy.decide(request("Debug my code"), context()).tier == "simple"


def test_weights_are_configurable():
    policy = compile_policy(example("complexity", weights={"code": 0.3}))

    assert policy.decide(request(CODE_PROMPT), context()).tier == "moderate"


def test_the_chain_escalates_through_the_higher_tiers():
    decision = tier_of("What is the capital of France?")

    assert decision.fallbacks == ("sim/cheap", "sim/mid-32k", "sim/mid")


def test_the_score_never_leaves_zero_to_one():
    text = CODE_PROMPT + " prove derive implement? why? how? $x^2$ " * 50

    assert score_complexity(text, 100_000).value == 1.0
    assert score_complexity("", 0).value == 0.0


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"tiers": {"simple": ["a"], "moderate": ["b"]}}, "tiers.complex", "required"),
        ({"tiers": {"simple": [], "moderate": ["b"], "complex": ["c"]}}, "tiers.simple", "must not be empty"),
        (
            {"tiers": {"simple": ["a"], "moderate": ["b"], "complex": ["c"], "expert": ["d"]}},
            "tiers.expert",
            "unknown",
        ),
        ({"thresholds": {"complex": 1.5}}, "thresholds.complex", "at most 1.0"),
        ({"thresholds": {"moderate": 0.7}}, "thresholds.moderate", "below thresholds.complex"),
        ({"thresholds": {"hard": 0.7}}, "thresholds.hard", "unknown key"),
        ({"features": {"code-review": "hard"}}, "features.code-review", "must be one of"),
        ({"features": {}}, "features", "must not be empty"),
        ({"weights": {"length": -0.1}}, "weights.length", "at least 0.0"),
        ({"keywords": "prove"}, "keywords", "must be an array"),
        ({"long_input_tokens": 0}, "long_input_tokens", "at least 1"),
    ],
)
def test_a_bad_complexity_spec_is_reported_with_its_path(changes, path, words):
    error = spec_error(example("complexity", **changes))

    assert error.path == path
    assert words in error.message
