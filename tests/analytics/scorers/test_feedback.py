import pytest

from analytics.scorers import ScoreInput, feedback_value, scorer_build


@pytest.mark.parametrize(
    ("kind", "value", "score"),
    [
        ("thumbs", "up", 1.0),
        ("thumbs", "down", 0.0),
        ("thumbs", " Up ", 1.0),
        ("thumbs", True, 1.0),
        ("thumbs", False, 0.0),
        ("stars", 1, 0.0),
        ("stars", 2, 0.25),
        ("stars", 3, 0.5),
        ("stars", 4, 0.75),
        ("stars", 5, 1.0),
        ("stars", 4.0, 0.75),
    ],
)
def test_thumbs_and_stars_map_onto_zero_to_one(kind, value, score):
    assert feedback_value(kind, value) == score


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("thumbs", "sideways", "thumbs feedback must be 'up' or 'down'"),
        ("thumbs", 1, "thumbs feedback must be 'up' or 'down'"),
        ("stars", 0, "stars feedback must be a whole number from 1 to 5, not 0"),
        ("stars", 6, "stars feedback must be a whole number from 1 to 5, not 6"),
        ("stars", 3.5, "stars feedback must be a whole number from 1 to 5, not 3.5"),
        ("stars", "4", "stars feedback must be a whole number from 1 to 5, not '4'"),
        ("stars", True, "stars feedback must be a whole number from 1 to 5, not True"),
        ("hearts", 3, "feedback kind must be one of thumbs, stars, not 'hearts'"),
    ],
)
def test_invalid_feedback_is_refused_with_a_message_for_the_user(kind, value, message):
    with pytest.raises(ValueError, match=message):
        feedback_value(kind, value)


def test_the_scorer_records_feedback_with_its_raw_value():
    score = scorer_build("user_feedback").convert("stars", 4)
    assert (score.scorer, score.value, score.raw, score.detail) == ("user_feedback", 0.75, 4.0, "stars: 4")


def test_the_scorer_reads_feedback_from_the_metadata_and_skips_inputs_without_any():
    scorer = scorer_build("user_feedback")
    given = ScoreInput(prompt="q", answer="a", metadata={"feedback_kind": "thumbs", "feedback_value": "down"})
    assert (scorer.score(given).value, scorer.score(given).raw) == (0.0, "down")
    assert scorer.score(ScoreInput(prompt="q", answer="a")).status == "skipped"
