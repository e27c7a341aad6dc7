"""The `cascade` kind and the answer-confidence heuristic the executor uses to escalate."""

import pytest

from routing.policies import (
    CascadePlan,
    answer_confidence,
    answer_kind,
    compile_policy,
    judge_prompt,
    parse_judge_score,
    structured_confidence,
)
from tests.routing.policies.catalog import EXAMPLES, context, example, request, spec_error

POLICY = compile_policy(EXAMPLES["cascade"])
FRANCE = request("What is the capital of France?")
CODE_QUESTION = request(
    "Refactor this function so it handles empty input, and explain the change step by step:\n"
    "```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n```"
)
STRUCTURED_ANSWER = """Guard the empty case before dividing:

```python
def mean(xs):
    if not xs:
        raise ValueError("mean() of an empty sequence")
    return sum(xs) / len(xs)
```

1. An empty list made `len(xs)` zero, so the division raised ZeroDivisionError.
2. The guard raises a ValueError with a message that names the problem instead.
3. Callers that expect a number for empty input can catch it and choose their own default."""


def test_the_cascade_starts_with_the_cheapest_model_and_plans_the_escalation():
    decision = POLICY.decide(FRANCE, context())

    assert decision.model == "sim/cheap-8k"
    assert decision.cascade == CascadePlan(("sim/cheap-8k", "sim/mid", "sim/premium"), 0.7, "heuristic")
    assert decision.fallbacks == ("sim/mid", "sim/premium")


def test_a_chain_model_that_cannot_fit_is_left_out_of_the_plan():
    decision = POLICY.decide(request("doc", input_tokens=20_000), context())

    assert decision.model == "sim/mid"
    assert decision.cascade.chain == ("sim/mid", "sim/premium")
    assert "skipped sim/cheap-8k: context window 8,192 < 20,000 tokens needed" in decision.trace


def test_the_trace_states_the_escalation_rule():
    assert (
        "escalate to sim/mid, sim/premium while confidence < 0.7 (heuristic check)"
        in POLICY.decide(FRANCE, context()).trace[0]
    )


def test_a_judge_cascade_names_its_judge_in_the_plan():
    policy = compile_policy(example("cascade", check="judge", judge_model="sim/mid"))

    assert policy.decide(FRANCE, context()).cascade.judge_model == "sim/mid"
    assert "sim/mid" in policy.models_referenced()


@pytest.mark.parametrize(
    ("answer", "low", "high"),
    [
        ("The capital of France is Paris.", 0.95, 1.0),
        ("Paris.", 0.95, 1.0),
        ("I'm not sure, but it might be Lyon. I don't know for certain.", 0.0, 0.45),
        ("It could be Paris, or maybe Marseille, perhaps.", 0.5, 0.8),
        ("As an AI language model, I cannot help with that.", 0.0, 0.1),
        ("I'm sorry, but I can't provide that information.", 0.0, 0.1),
        ("", 0.0, 0.0),
    ],
)
def test_confident_answers_score_high_and_hedged_ones_low(answer, low, high):
    assert low <= answer_confidence(answer, FRANCE) <= high


def test_a_short_unstructured_answer_to_a_complex_question_scores_below_a_full_one():
    terse = answer_confidence("Add a check for empty lists.", CODE_QUESTION)
    full = answer_confidence(STRUCTURED_ANSWER, CODE_QUESTION)

    assert terse < 0.6 < 0.9 <= full


def test_one_hedge_word_weighs_less_in_a_long_answer():
    hedge = "It might be slow. "
    short = answer_confidence(hedge, FRANCE)
    long = answer_confidence(hedge + "The rest of the answer is plain and direct. " * 20, FRANCE)

    assert short < long


def test_the_judge_prompt_holds_the_request_and_the_answer():
    messages = judge_prompt(FRANCE, "Paris")

    assert "capital of France" in messages[1]["content"] and "Paris" in messages[1]["content"]
    assert '{"score": N}' in messages[0]["content"]


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ('{"score": 8}', 0.8),
        ("Score: 3", 0.3),
        ("I'd give it 7/10.", 0.7),
        ("9", 0.9),
        ('{"score": 14}', 1.0),
    ],
)
def test_the_judge_rating_is_scaled_to_zero_one(text, score):
    assert parse_judge_score(text) == pytest.approx(score)


@pytest.mark.parametrize("text", [None, "", "looks great", '{"verdict": "good"}'])
def test_a_judge_answer_without_a_rating_gives_none(text):
    assert parse_judge_score(text) is None


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"chain": ["sim/cheap"]}, "chain", "at least 2"),
        ({"chain": []}, "chain", "at least 2"),
        ({"threshold": -0.1}, "threshold", "at least 0.0"),
        ({"check": "vibes"}, "check", "must be one of: heuristic, judge"),
        ({"check": "judge"}, "judge_model", "required when check is 'judge'"),
        ({"judge_model": "sim/mid"}, "judge_model", "only used when check is 'judge'"),
    ],
)
def test_a_bad_cascade_spec_is_reported_with_its_path(changes, path, words):
    error = spec_error(example("cascade", **changes))

    assert error.path == path
    assert words in error.message


# -- answers that are not prose: tool calls and structured output -------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
NOW = {"type": "function", "function": {"name": "now"}}


def call(name: str, arguments: str) -> dict:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


@pytest.mark.parametrize(
    "calls",
    [
        [call("get_weather", '{"city": "Paris"}')],
        [call("get_weather", '{"city": "Paris", "days": 3}'), call("now", "{}")],
    ],
)
def test_a_tool_call_naming_an_offered_tool_with_valid_arguments_is_judged_good(calls):
    assert structured_confidence("", calls, [WEATHER, NOW], None) == 1.0


@pytest.mark.parametrize(
    "calls",
    [
        [call("get_forecast", '{"city": "Paris"}')],  # a tool the request did not offer
        [call("get_weather", '{"city": "Paris"')],  # arguments that do not parse
        [call("get_weather", '["Paris"]')],  # arguments that are not an object
        [call("get_weather", '{"days": 3}')],  # a required property missing
        [call("get_weather", '{"city": "Paris", "days": "three"}')],  # a property of the wrong type
        [call("now", "{}"), call("get_weather", "{}")],  # one bad call of two
    ],
)
def test_a_tool_call_to_an_unknown_tool_or_with_bad_arguments_is_judged_bad(calls):
    assert structured_confidence("", calls, [WEATHER, NOW], None) == 0.0


def test_a_tool_call_is_judged_by_its_validity_even_when_prose_comes_with_it():
    hedged = "I'm not sure, maybe this might work?"

    assert structured_confidence(hedged, [call("now", "{}")], [NOW], None) == 1.0


SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "capital",
        "schema": {
            "type": "object",
            "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
            "required": ["country", "capital"],
        },
    },
}


@pytest.mark.parametrize(
    "text, response_format, score",
    [
        ('{"country": "France", "capital": "Paris"}', SCHEMA_FORMAT, 1.0),
        ('{"country": "France"}', SCHEMA_FORMAT, 0.0),
        ('{"country": "France", "capital": 7}', SCHEMA_FORMAT, 0.0),
        ("The capital of France is Paris.", SCHEMA_FORMAT, 0.0),
        ('{"anything": true}', {"type": "json_object"}, 1.0),
        ('{"cut": "short', {"type": "json_object"}, 0.0),
        ('"just a string"', {"type": "json_object"}, 0.0),
    ],
)
def test_structured_output_is_judged_by_whether_it_parses_and_matches_its_schema(
    text, response_format, score
):
    assert structured_confidence(text, (), None, response_format) == score


def test_a_schema_that_is_not_valid_judges_the_output_by_parsing_alone():
    broken = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "no-such-type"}}}

    assert structured_confidence('{"a": 1}', (), None, broken) == 1.0
    assert structured_confidence("not json", (), None, broken) == 0.0


def test_prose_is_left_to_the_wording_heuristic():
    assert structured_confidence("Paris.", (), [WEATHER], {"type": "text"}) is None
    assert answer_kind((), {"type": "text"}) == "prose"
    assert answer_kind([call("now", "{}")], {"type": "json_object"}) == "tool_calls"
    assert answer_kind((), {"type": "json_object"}) == "structured"
