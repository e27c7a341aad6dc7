from analytics.scorers import ScoreInput, scorer_build
from routing.policies.cascade import answer_confidence
from routing.policies.types import RouteRequest

QUESTION = "What is the capital of France?"


def confidence(answer: str, prompt: str = QUESTION):
    return scorer_build("heuristic_confidence").score(ScoreInput(prompt=prompt, answer=answer))


def test_the_score_is_the_cascades_own_confidence():
    answer = "I think it might be Paris, but I'm not sure."
    expected = answer_confidence(answer, RouteRequest(text=QUESTION, input_tokens=8))
    assert confidence(answer).value == expected


def test_a_plain_answer_scores_one_a_hedged_one_less_and_a_refusal_at_most_a_tenth():
    assert confidence("Paris.").value == 1.0
    # one strong hedge (0.3) and two weak ones (0.2) in a short answer
    assert confidence("I'm not sure, it might be Paris, maybe.").value == 0.5
    assert confidence("I'm sorry, but I can't help with that.").value <= 0.1
    assert confidence("").value == 0.0
