import csv
from fractions import Fraction

import pytest

from analytics.scorers import ScoreInput, scorer_build
from analytics.scorers.numeric import final_number

WEAK, STRONG = "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-4-1106-preview"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("She makes $<<9*2=18>>18.\n#### 18", Fraction(18)),
        ("#### 18\n\nThe eggs were 16 and 3.", Fraction(18)),
        ("The total is $1,234.50 today.", Fraction("1234.50")),
        ("It drops to -3 degrees.", Fraction(-3)),
        ("He lost -$5 on it.", Fraction(-5)),
        ("16 - 3 = 13", Fraction(13)),
        ("16-3", Fraction(3)),
        ("She ate 3/4 of the pie.", Fraction(3, 4)),
        ("It needs 2.5 bolts.", Fraction(5, 2)),
        ("The house cost $80,000, then rose.", Fraction(80_000)),
        ("60% of the glasses", Fraction(60)),
        ("no digits here", None),
    ],
)
def test_the_final_number_reads_markers_signs_currency_separators_and_fractions(text, number):
    assert final_number(text) == number


def numeric(answer: str, reference: str, **options):
    return scorer_build("numeric_answer", **options).score(
        ScoreInput(prompt="q", answer=answer, reference=reference)
    )


def test_an_answer_ending_on_the_reference_number_scores_one():
    score = numeric("So she makes $18 every day.", "Janet sells 9 eggs at $2.\n#### 18")
    assert (score.value, score.raw, score.detail) == (1.0, 18.0, "18 equals 18")


def test_an_answer_ending_on_another_number_scores_zero():
    score = numeric("The answer is 17.", "18")
    assert (score.value, score.detail) == (0.0, "17 differs from 18")


def test_numbers_compare_by_value_not_by_spelling():
    assert numeric("That is 0.75 of it", "3/4").value == 1.0
    assert numeric("$1,000.00", "1000").value == 1.0


def test_a_tolerance_accepts_a_rounded_answer():
    assert numeric("about 0.333", "1/3").value == 0.0
    assert numeric("about 0.333", "1/3", tolerance=0.001).value == 1.0


def test_an_answer_without_a_number_is_wrong_and_a_reference_without_one_cannot_be_scored():
    assert numeric("I don't know.", "18").detail == "no number in the answer"
    assert numeric("I don't know.", "18").value == 0.0
    failed = numeric("18", "unknown")
    assert (failed.status, failed.detail) == ("failed", "the reference holds no number")


def test_a_negative_tolerance_is_refused():
    with pytest.raises(ValueError, match="tolerance must be a number >= 0"):
        scorer_build("numeric_answer", tolerance=-1)


@pytest.fixture(scope="module")
def gsm8k(routellm):
    with open(routellm / "gsm8k" / "gsm8k_responses.csv", newline="") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize(
    ("row", "model", "number", "starts"),
    [
        (0, WEAK, 18, "Janet’s ducks lay 16 eggs"),  # "... = $<<9*2=18>>18.\n#### 18"
        (0, STRONG, 18, "Janet’s ducks lay 16 eggs"),  # "... she makes 9 * $2 = $18 every day ..."
        (3, STRONG, 540, "James decides to run 3 sprints"),  # "... = 540 meters/week.\n\n#### 540"
        (4, STRONG, 20, "Every day, Wendi feeds"),  # "... give her chickens 20 cups of feed ..."
        (191, WEAK, Fraction(1, 2), "Ducks need to eat"),  # "... <<3.5/7=0.5>>0.5 pounds ...\n#### 0.5"
        (1269, WEAK, -54, "Elvis starts driving"),  # "... = -<<90-144=-54>>54 miles ...\n#### -54"
    ],
)
def test_real_gsm8k_answers_give_their_final_number(gsm8k, row, model, number, starts):
    assert gsm8k[row]["prompt"].startswith(starts)
    assert final_number(gsm8k[row][f"{model}_response"]) == number


def test_two_models_both_marked_correct_on_gsm8k_end_on_the_same_number(gsm8k):
    # The labels come from RouteLLM's own grading; a faithful extractor agrees with them almost always
    # (the exceptions: units, such as 0.84 dollars against 84 cents, and a trailing "1/3 pound").
    both = [row for row in gsm8k if row[WEAK] == row[STRONG] == "True"]
    agree = sum(
        final_number(row[f"{WEAK}_response"]) == final_number(row[f"{STRONG}_response"]) for row in both
    )
    assert len(both) == 747
    assert agree / len(both) >= 0.99
