"""compile_policy and the strict spec reader shared by every kind."""

import pytest

from routing.policies import KINDS, Policy, SpecError, compile_policy
from tests.routing.policies.catalog import EXAMPLES, example, spec_error


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_every_kind_compiles_its_documented_example(kind):
    policy = compile_policy(EXAMPLES[kind])

    assert isinstance(policy, Policy)
    assert policy.kind == kind


def test_every_kind_has_a_documented_example():
    assert set(EXAMPLES) == set(KINDS)


def test_a_spec_that_is_not_an_object_is_rejected_at_the_root():
    error = spec_error(["rules"])

    assert error.path == "$"
    assert "JSON object" in error.message


def test_a_missing_kind_is_reported_on_the_kind_field():
    error = spec_error({"rules": []})

    assert error.path == "kind"
    assert "required" in error.message


def test_an_unknown_kind_names_the_kinds_that_exist():
    error = spec_error({"kind": "random"})

    assert error.path == "kind"
    assert "unknown kind 'random'" in error.message
    assert "complexity" in error.message


def test_a_kind_that_is_not_a_string_is_a_type_error_on_kind():
    assert spec_error({"kind": 3}).path == "kind"


def test_an_unknown_top_level_key_is_rejected_with_its_path():
    error = spec_error(example("cascade", colour="blue"))

    assert error.path == "colour"
    assert "unknown key" in error.message


def test_a_missing_required_key_is_reported_on_that_key():
    assert spec_error(example("rules", default=None)).path == "default"


def test_the_error_text_is_the_path_then_the_message():
    error = spec_error(example("cascade", threshold=2))

    assert str(error) == f"{error.path}: {error.message}"
    assert str(error) == "threshold: must be at most 1.0; got 2"


def test_spec_errors_are_value_errors_for_callers_that_catch_those():
    with pytest.raises(ValueError):
        compile_policy({"kind": "nope"})


def test_a_boolean_is_not_accepted_where_a_number_is_expected():
    error = spec_error(example("cascade", threshold=True))

    assert error.path == "threshold"
    assert "must be a number, not a boolean" in error.message


def test_a_number_given_as_a_string_is_a_type_error():
    assert "must be a number, not a string" in spec_error(example("cost_aware", min_quality="0.8")).message


def test_infinite_numbers_are_rejected():
    assert spec_error(example("cost_aware", min_quality=float("inf"))).path == "min_quality"


def test_an_optional_key_set_to_null_counts_as_absent():
    policy = compile_policy(example("cascade", threshold=None) | {"threshold": None})

    assert policy.threshold == 0.7


def test_max_fallbacks_caps_the_chain_and_is_range_checked():
    assert compile_policy(example("cascade", max_fallbacks=1)).max_fallbacks == 1
    assert spec_error(example("cascade", max_fallbacks=-1)).path == "max_fallbacks"
    assert spec_error(example("cascade", max_fallbacks=1.5)).path == "max_fallbacks"


def test_a_description_is_allowed_on_every_kind():
    assert compile_policy(example("hybrid", description="cheap but good")).description == "cheap but good"


def test_an_empty_model_key_is_rejected():
    error = spec_error(example("cascade", chain=["sim/cheap", " "]))

    assert error.path == "chain[1]"
    assert "must not be empty" in error.message


def test_a_duplicated_model_in_a_list_is_rejected_at_the_duplicate():
    error = spec_error(example("cascade", chain=["sim/cheap", "sim/mid", "sim/cheap"]))

    assert error.path == "chain[2]"
    assert "duplicate" in error.message


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("rules", {"sim/mid", "sim/premium", "sim/premium-16k", "sim/cheap", "sim/cheap-8k"}),
        ("llm_router", {"sim/cheap", "sim/cheap-8k", "sim/mid", "sim/premium"}),
        ("cascade", {"sim/cheap-8k", "sim/mid", "sim/premium"}),
        ("cost_aware", {"sim/mid-32k"}),
        ("latency_aware", {"sim/cheap", "sim/mid", "sim/premium"}),
        ("hybrid", set()),
    ],
)
def test_models_referenced_names_every_key_the_spec_mentions(kind, expected):
    assert compile_policy(EXAMPLES[kind]).models_referenced() == expected


def test_spec_error_keeps_path_and_message_apart():
    error = SpecError("rules[2].when.min_input_tokens", "must be at least 0; got -1")

    assert (error.path, error.message) == ("rules[2].when.min_input_tokens", "must be at least 0; got -1")


ODD_VALUES = (None, True, 0, -1, 1.5, float("nan"), "", "x", [], [1], ["x", "x"], {}, {"a": 1}, {"": 1})


def _paths(value, path=()):
    """Every path into a spec: object keys and array indexes, nested."""
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _paths(child, (*path, key))


def _replaced(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_any_odd_value_anywhere_in_a_spec_gives_a_spec_error_or_a_policy_never_a_crash(kind):
    for path in _paths(EXAMPLES[kind]):
        for odd in ODD_VALUES:
            try:
                compile_policy(_replaced(EXAMPLES[kind], path, odd))
            except SpecError as error:
                assert error.path and error.message
