import pytest

from analytics.scorers import SCORERS, Score, ScoreInput, Scorer, scorer_build, scorer_options


def test_every_scorer_of_the_issue_is_registered_under_its_own_name():
    assert set(SCORERS) == {
        "exact_match",
        "normalised_match",
        "numeric_answer",
        "multiple_choice",
        "token_f1",
        "json_valid",
        "json_schema",
        "regex",
        "heuristic_confidence",
        "embedding_similarity",
        "llm_judge",
        "user_feedback",
        "recorded_quality",
    }
    assert all(cls.name == name and cls.version for name, cls in SCORERS.items())


def test_building_a_scorer_by_name_passes_its_options():
    scorer = scorer_build("regex", pattern=r"\d+", flags="i")
    assert scorer.score(ScoreInput(prompt="", answer="42")).value == 1.0


def test_an_unknown_scorer_name_lists_the_known_ones():
    with pytest.raises(
        ValueError, match="unknown scorer 'bleu'; known scorers: embedding_similarity, exact_match"
    ):
        scorer_build("bleu")


def test_an_unknown_option_is_refused_with_the_options_the_scorer_takes():
    with pytest.raises(ValueError, match="scorer 'regex': unknown option.* patern; it takes pattern, flags"):
        scorer_build("regex", patern="x")


def test_a_missing_required_option_is_named():
    with pytest.raises(ValueError, match="scorer 'llm_judge': missing complete, judge"):
        scorer_build("llm_judge")


def test_the_options_say_which_are_required():
    assert scorer_options("json_schema") == {"schema": True}
    assert scorer_options("numeric_answer") == {"tolerance": False}
    assert scorer_options("token_f1") == {}


def test_reference_scorers_skip_an_input_without_reference():
    for name in ("exact_match", "normalised_match", "numeric_answer", "multiple_choice", "token_f1"):
        score = scorer_build(name).score(ScoreInput(prompt="q", answer="a"))
        assert (score.status, score.value, score.detail) == ("skipped", None, "no reference")


def test_a_score_has_a_value_exactly_when_it_is_scored():
    with pytest.raises(ValueError, match="needs a value"):
        Score("x", "1", None, None, "scored")
    with pytest.raises(ValueError, match="a failed Score has no value"):
        Score("x", "1", 0.0, None, "failed")
    with pytest.raises(ValueError, match="status must be one of scored, skipped, failed"):
        Score("x", "1", None, None, "broken")


def test_score_input_and_score_are_frozen():
    score = Score("x", "1", 1.0, 1.0, "scored")
    with pytest.raises(AttributeError):
        score.value = 0.0  # type: ignore[misc]
    assert ScoreInput(prompt="p", answer="a").metadata == {}


def test_a_scorer_without_evaluate_says_so():
    class Unfinished(Scorer):
        name = "unfinished"

    with pytest.raises(NotImplementedError):
        Unfinished().score(ScoreInput(prompt="p", answer="a"))
