import pytest

from analytics.scorers import ScoreInput, scorer_build
from analytics.scorers.choice import chosen_letter


@pytest.mark.parametrize(
    ("answer", "letter"),
    [
        ("The answer is (B)", "B"),
        ("B)", "B"),
        ("B) Paris", "B"),
        ("Answer: c", "C"),
        ("**D**", "D"),
        ("**Answer:** D", "D"),
        ("Paris is the capital, so the correct option is C.", "C"),
        ("Between (A) and (C), the right one is (C).", "C"),
        ("Option A fails on the second step.\n\nThe answer is E", "E"),
        ("The answer is a bit tricky, but I think (C)", "C"),
        ("e", "E"),
    ],
)
def test_the_chosen_letter_is_found_in_the_usual_phrasings(answer, letter):
    assert chosen_letter(answer) == letter


@pytest.mark.parametrize(
    "answer", ["A cat sat on the mat.", "I think it's the first one", "The answer is F", ""]
)
def test_an_article_a_word_or_a_letter_out_of_range_is_no_choice(answer):
    assert chosen_letter(answer) is None


def choice(answer: str, reference: str, **options):
    return scorer_build("multiple_choice", **options).score(
        ScoreInput(prompt="q", answer=answer, reference=reference)
    )


def test_the_answer_scores_one_when_it_picks_the_reference_letter():
    score = choice("The answer is (B)", "B")
    assert (score.value, score.raw, score.detail) == (1.0, "B", "B matches B")
    assert choice("Answer: c", "(B)").value == 0.0


def test_an_answer_that_picks_nothing_is_wrong():
    score = choice("I am not sure.", "B")
    assert (score.status, score.value, score.detail) == (
        "scored",
        0.0,
        "the answer picks no letter among ABCDE",
    )


def test_a_reference_without_a_letter_cannot_be_scored():
    score = choice("B", "Paris")
    assert (score.status, score.value) == ("failed", None)


def test_the_choices_limit_the_letters_in_play():
    assert choice("Answer: E", "D", choices="ABCD").detail == "the answer picks no letter among ABCD"
    assert choice("Answer: E", "E", choices="ABCD").status == "failed"
    assert choice("Answer: E", "E").value == 1.0
    with pytest.raises(ValueError, match="choices must be two or more letters"):
        scorer_build("multiple_choice", choices="A1")
