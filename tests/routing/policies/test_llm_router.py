"""The `llm_router` kind: the classifier's raw answer, parsed robustly, picks the tier."""

import pytest

from routing.policies import compile_policy, parse_classification
from tests.routing.policies.catalog import EXAMPLES, context, example, request, spec_error

POLICY = compile_policy(EXAMPLES["llm_router"])


def test_the_policy_asks_the_caller_to_run_its_classifier():
    assert POLICY.needs_classification is True
    assert POLICY.classifier_model == "sim/cheap"


def test_the_classifier_prompt_asks_for_json_and_carries_the_request():
    messages = POLICY.classifier_prompt(request("Explain quicksort"))

    assert [message["role"] for message in messages] == ["system", "user"]
    assert '{"complexity": "SIMPLE"}' in messages[0]["content"]
    assert "Explain quicksort" in messages[1]["content"]


def test_a_long_request_is_clipped_in_the_classifier_prompt_keeping_both_ends():
    text = "START " + "filler " * 5000 + " END"
    content = POLICY.classifier_prompt(request(text))[1]["content"]

    assert len(content) < 4200
    assert "START" in content and "END" in content


@pytest.mark.parametrize(
    ("answer", "tier"),
    [
        ('{"complexity": "SIMPLE"}', "SIMPLE"),
        ('```json\n{"complexity": "complex"}\n```', "COMPLEX"),
        ('Sure! Here you go: {"complexity": "MODERATE"} Hope that helps.', "MODERATE"),
        ('{"Complexity": "Moderate."}', "MODERATE"),
        ('{"tier": "hard"}', "COMPLEX"),
        ("{'complexity': 'complex'}", "COMPLEX"),
        ("complexity: complex", "COMPLEX"),
        ("Complexity = Simple", "SIMPLE"),
        ("COMPLEX", "COMPLEX"),
        ("  simple.\n", "SIMPLE"),
        ('"MODERATE"', "MODERATE"),
        ("I would rate this request as complex because it needs several steps.", "COMPLEX"),
    ],
)
def test_the_classification_is_read_from_json_fences_prose_and_bare_words(answer, tier):
    assert parse_classification(answer)[0] == tier


@pytest.mark.parametrize(
    "answer",
    [
        None,
        "",
        "I'm sorry, but I can't help with that.",
        "SIMPLE | MODERATE | COMPLEX",
        '{"complexity": "COMP',
        '{"complexity": "very"}',
        "42",
    ],
)
def test_garbage_refusals_and_ambiguity_yield_no_tier(answer):
    tier, why = parse_classification(answer)

    assert tier is None
    assert why


def test_a_timed_out_classifier_routes_to_the_default_tier_and_says_so():
    decision = POLICY.decide(request("Explain quicksort"), context(classification=None))

    assert decision.tier == "MODERATE"
    assert decision.model == "sim/mid"
    assert decision.trace[0] == "no classification (not run or timed out): default tier MODERATE"


def test_a_garbage_answer_routes_to_the_default_tier_and_quotes_it():
    decision = POLICY.decide(
        request("Explain quicksort"), context(classification="As an AI I cannot rate this")
    )

    assert decision.tier == "MODERATE"
    assert (
        decision.trace[0] == "unparseable classification 'As an AI I cannot rate this': default tier MODERATE"
    )


def test_a_clear_answer_picks_its_tier_and_the_trace_shows_the_answer():
    decision = POLICY.decide(request("Hi"), context(classification='{"complexity": "SIMPLE"}'))

    assert (decision.tier, decision.model) == ("SIMPLE", "sim/cheap-8k")
    assert decision.trace[0] == 'classifier sim/cheap said \'{"complexity": "SIMPLE"}\' -> SIMPLE (JSON)'


def test_the_chain_escalates_through_the_higher_tiers_and_never_to_the_classifier():
    decision = POLICY.decide(request("Hi"), context(classification="SIMPLE"))

    assert decision.fallbacks == ("sim/mid", "sim/premium")  # sim/cheap classifies; it never answers


def test_the_default_tier_is_configurable():
    policy = compile_policy(example("llm_router", default_tier="COMPLEX"))

    assert policy.decide(request("Hi"), context()).model == "sim/premium"


def test_models_referenced_includes_the_classifier():
    assert "sim/cheap" in POLICY.models_referenced()


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"tiers": {"SIMPLE": ["a"], "MODERATE": ["b"]}}, "tiers.COMPLEX", "required"),
        ({"tiers": {"simple": ["a"], "MODERATE": ["b"], "COMPLEX": ["c"]}}, "tiers.simple", "unknown key"),
        ({"tiers": {"SIMPLE": [], "MODERATE": ["b"], "COMPLEX": ["c"]}}, "tiers.SIMPLE", "must not be empty"),
        ({"default_tier": "EXPERT"}, "default_tier", "must be one of"),
        ({"classifier_model": None}, "classifier_model", "required"),
        ({"classifier_model": ["sim/cheap"]}, "classifier_model", "must be a string"),
        ({"max_prompt_chars": 10}, "max_prompt_chars", "at least 200"),
    ],
)
def test_a_bad_llm_router_spec_is_reported_with_its_path(changes, path, words):
    error = spec_error(example("llm_router", **changes))

    assert error.path == path
    assert words in error.message
