import re

import pytest

from analytics.scorers import ScoreInput, scorer_build

PERSON = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}


def check(name: str, answer: str, **options):
    return scorer_build(name, **options).score(ScoreInput(prompt="q", answer=answer))


@pytest.mark.parametrize(
    ("answer", "value", "detail"),
    [
        ('{"name": "Ada", "age": 36}', 1.0, "the whole answer parses as JSON"),
        ("  [1, 2, 3]\n", 1.0, "the whole answer parses as JSON"),
        ('Here it is:\n```json\n{"name": "Ada"}\n```\nAnything else?', 1.0, "a fenced block parses as JSON"),
    ],
)
def test_json_in_the_answer_or_in_a_fenced_block_is_valid(answer, value, detail):
    score = check("json_valid", answer)
    assert (score.value, score.detail) == (value, detail)


def test_json_in_a_plain_fenced_block_is_found():
    score = check("json_valid", 'Sure:\n```\n{"ok": true}\n```')
    assert (score.value, score.detail) == (1.0, "a fenced block parses as JSON")


@pytest.mark.parametrize("answer", ["{'name': 'Ada'}", '{"a": 1,}', "NaN", '{"x": Infinity}', "", "Sure!"])
def test_python_literals_trailing_commas_nan_and_prose_are_not_json(answer):
    score = check("json_valid", answer)
    assert (score.status, score.value) == ("scored", 0.0)
    assert score.detail


def test_json_valid_against_the_schema_scores_one():
    assert check("json_schema", '```json\n{"name": "Ada", "age": 36}\n```', schema=PERSON).value == 1.0


def test_json_breaking_the_schema_scores_zero_and_says_where():
    score = check("json_schema", '{"name": "Ada", "age": -1}', schema=PERSON)
    assert score.value == 0.0
    assert score.detail == "the whole answer breaks the schema at $.age: -1 is less than the minimum of 0"
    assert "'age' is a required property" in check("json_schema", '{"name": "Ada"}', schema=PERSON).detail


def test_json_schema_counts_an_answer_that_is_not_json_as_wrong():
    assert check("json_schema", "Ada, 36", schema=PERSON).value == 0.0


def test_an_invalid_schema_is_refused_when_the_scorer_is_built():
    with pytest.raises(ValueError, match="json_schema: the schema is invalid"):
        scorer_build("json_schema", schema={"type": "person"})
    with pytest.raises(ValueError, match="schema must be a JSON Schema object"):
        scorer_build("json_schema", schema="PERSON")


def test_the_regex_scorer_searches_the_answer_with_its_flags():
    assert check("regex", "Order #A-1234 shipped", pattern=r"#[A-Z]-\d{4}").raw == "#A-1234"
    assert check("regex", "ORDER shipped", pattern="^order", flags="i").value == 1.0
    assert check("regex", "ORDER shipped", pattern="^order").value == 0.0
    assert check("regex", "one\ntwo", pattern="^two$", flags=re.MULTILINE).value == 1.0


def test_a_bad_pattern_or_flag_is_refused_when_the_scorer_is_built():
    with pytest.raises(ValueError, match=r"regex: pattern '\(' is invalid"):
        scorer_build("regex", pattern="(")
    with pytest.raises(ValueError, match="flags must be letters among imsxa"):
        scorer_build("regex", pattern="x", flags="q")
