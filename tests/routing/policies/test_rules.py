"""The `rules` kind: ordered conditions, first match wins, a default."""

import pytest

from routing.policies import compile_policy
from tests.routing.policies.catalog import EXAMPLES, context, request, spec_error


def rules(*entries, default="sim/cheap-8k"):
    return compile_policy({"kind": "rules", "rules": list(entries), "default": default})


def test_the_first_matching_rule_wins_and_the_trace_names_it():
    decision = compile_policy(EXAMPLES["rules"]).decide(
        request("Refactor this module", input_tokens=800, feature="refactor", has_images=True), context()
    )

    assert decision.model == "sim/mid"
    assert "rules[0] (images) matched: has_images=True -> sim/mid" in decision.trace


def test_the_trace_says_which_condition_stopped_each_earlier_rule():
    decision = compile_policy(EXAMPLES["rules"]).decide(
        request("Review please", input_tokens=800, feature="code-review"), context()
    )

    assert decision.model == "sim/premium"
    assert decision.trace[:2] == (
        "rules[0] (images) no match: has_images",
        "rules[1] (code review) matched: feature=code-review; input_tokens 800 >= 500 -> sim/premium",
    )


def test_a_rule_s_fallbacks_lead_the_fallback_chain():
    decision = compile_policy(EXAMPLES["rules"]).decide(
        request("Review please", input_tokens=800, feature="code-review"), context()
    )

    assert decision.fallbacks[0] == "sim/mid"


def test_the_default_serves_when_no_rule_matches():
    decision = compile_policy(EXAMPLES["rules"]).decide(request("Hi there"), context())

    assert decision.model == "sim/cheap-8k"
    assert "no rule matched: default sim/cheap-8k" in decision.trace


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("Please PROVE that the sum converges", True),
        ("Walk me through it Step  By\nStep", True),
        ("He proved it yesterday", True),
        ("The proverb says otherwise", False),
        ("improve my essay", False),
    ],
)
def test_keywords_match_whole_words_in_any_case(text, matches):
    policy = rules({"when": {"keywords": ["prove", "step by step"]}, "model": "sim/premium"})

    assert (policy.decide(request(text), context()).model == "sim/premium") is matches


def test_the_trace_names_the_keywords_that_matched():
    policy = rules({"when": {"keywords": ["prove", "refund"]}, "model": "sim/premium"})

    assert (
        policy.decide(request("Prove it"), context()).trace[0]
        == "rules[0] matched: keywords 'prove' -> sim/premium"
    )


def test_a_regex_condition_searches_the_text():
    policy = compile_policy(EXAMPLES["rules"])

    assert policy.decide(request("About INVOICE #4411, please"), context()).model == "sim/cheap"
    assert policy.decide(request("About the invoice, please"), context()).model == "sim/cheap-8k"


@pytest.mark.parametrize(
    ("tokens", "model"), [(99, "sim/cheap-8k"), (100, "sim/mid"), (2000, "sim/mid"), (2001, "sim/cheap-8k")]
)
def test_token_bounds_are_inclusive(tokens, model):
    policy = rules({"when": {"min_input_tokens": 100, "max_input_tokens": 2000}, "model": "sim/mid"})

    assert policy.decide(request("x", input_tokens=tokens), context()).model == model


def test_user_tier_and_feature_accept_a_single_value_or_a_list():
    policy = rules(
        {"when": {"user_tier": ["pro", "enterprise"], "feature": "chat"}, "model": "sim/premium"},
    )

    assert policy.decide(request(user_tier="enterprise", feature="chat"), context()).model == "sim/premium"
    assert policy.decide(request(user_tier="free", feature="chat"), context()).model == "sim/cheap-8k"
    assert policy.decide(request(user_tier="pro"), context()).model == "sim/cheap-8k"


def test_metadata_conditions_need_every_value_to_match():
    policy = rules({"when": {"metadata": {"locale": "de", "channel": "email"}}, "model": "sim/mid"})

    assert policy.decide(request(metadata={"locale": "de", "channel": "email"}), context()).model == "sim/mid"
    assert policy.decide(request(metadata={"locale": "de"}), context()).model == "sim/cheap-8k"


def test_needs_tools_condition_matches_the_flag():
    policy = rules({"when": {"needs_tools": True}, "model": "sim/mid"})

    assert policy.decide(request(needs_tools=True), context()).model == "sim/mid"


def test_a_rule_without_conditions_always_matches():
    assert rules({"when": {}, "model": "sim/mid"}).decide(request(), context()).model == "sim/mid"


@pytest.mark.parametrize(
    ("when", "path", "words"),
    [
        ({"colour": "red"}, "rules[0].when.colour", "unknown key"),
        ({"min_input_tokens": "many"}, "rules[0].when.min_input_tokens", "must be an integer"),
        ({"min_input_tokens": -1}, "rules[0].when.min_input_tokens", "at least 0"),
        (
            {"min_input_tokens": 10, "max_input_tokens": 5},
            "rules[0].when.max_input_tokens",
            "min_input_tokens",
        ),
        ({"regex": "(unclosed"}, "rules[0].when.regex", "invalid regular expression"),
        ({"keywords": []}, "rules[0].when.keywords", "must not be empty"),
        ({"keywords": ["ok", 3]}, "rules[0].when.keywords[1]", "must be a string"),
        ({"has_images": "yes"}, "rules[0].when.has_images", "must be a boolean"),
        ({"feature": 7}, "rules[0].when.feature", "a string or an array"),
        ({"metadata": {"locale": 1}}, "rules[0].when.metadata.locale", "must be a string"),
    ],
)
def test_a_bad_condition_is_reported_with_its_path(when, path, words):
    error = spec_error(
        {"kind": "rules", "rules": [{"when": when, "model": "sim/mid"}], "default": "sim/cheap"}
    )

    assert error.path == path
    assert words in error.message


def test_the_path_counts_rules_from_zero():
    spec = {
        "kind": "rules",
        "rules": [
            {"when": {}, "model": "sim/mid"},
            {"when": {}, "model": "sim/mid"},
            {"when": {"x": 1}, "model": "m"},
        ],
        "default": "sim/cheap",
    }

    assert spec_error(spec).path == "rules[2].when.x"


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"model": "sim/mid"}, "rules[0].when"),
        ({"when": {}}, "rules[0].model"),
        ({"when": {}, "model": "sim/mid", "fallbacks": []}, "rules[0].fallbacks"),
        ({"when": {}, "model": "sim/mid", "priority": 1}, "rules[0].priority"),
        ("always", "rules[0]"),
    ],
)
def test_a_malformed_rule_is_reported_with_its_path(rule, path):
    assert spec_error({"kind": "rules", "rules": [rule], "default": "sim/cheap"}).path == path


def test_rules_must_be_an_array():
    assert spec_error({"kind": "rules", "rules": {}, "default": "sim/cheap"}).path == "rules"
