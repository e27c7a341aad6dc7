"""Known answers: the official SQuAD v1.1 evaluation script gives these values for these pairs."""

import pytest

from analytics.scorers import ScoreInput, scorer_build
from analytics.scorers.match import normalise_answer, token_f1


def score(name: str, answer: str, reference: str, **options):
    return scorer_build(name, **options).score(ScoreInput(prompt="q", answer=answer, reference=reference))


def test_exact_match_needs_the_same_string_apart_from_surrounding_whitespace():
    assert score("exact_match", "Paris\n", "Paris").value == 1.0
    assert score("exact_match", "paris", "Paris").value == 0.0
    assert score("exact_match", " Paris", "Paris", strip=False).value == 0.0


def test_normalisation_drops_case_punctuation_articles_and_extra_spaces():
    assert normalise_answer("  The Denver   Broncos!") == "denver broncos"
    assert normalise_answer("An apple, a pear.") == "apple pear"
    assert normalise_answer("Theory") == "theory"


def test_normalised_match_forgives_what_squad_forgives():
    assert score("normalised_match", "The Denver Broncos.", "denver broncos").value == 1.0
    assert score("normalised_match", "Denver", "Denver Broncos").value == 0.0


@pytest.mark.parametrize(
    ("answer", "reference", "f1"),
    [
        ("Denver Broncos", "Denver Broncos", 1.0),
        ("the Denver Broncos won", "Denver Broncos", 0.8),  # p = 2/3, r = 1
        ("Broncos", "Denver Broncos", 2 / 3),  # p = 1, r = 1/2
        ("Carolina Panthers", "Denver Broncos", 0.0),
        ("x b b c", "b b b d", 0.5),  # common multiset {b, b}: p = 2/4, r = 2/4
        ("a b b c", "b b b d", 4 / 7),  # "a" is an article: p = 2/3, r = 2/4
        ("", "", 1.0),
        ("", "Denver", 0.0),
    ],
)
def test_token_f1_matches_the_squad_script(answer, reference, f1):
    assert token_f1(answer, reference) == pytest.approx(f1)
    assert score("token_f1", answer, reference).value == pytest.approx(f1)
