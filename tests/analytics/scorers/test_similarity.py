import math

import pytest

from analytics.scorers import ScoreInput, scorer_build
from routing.policies import embeddings

VECTORS = {"north": [0.0, 1.0], "north-east": [1.0, 1.0], "south": [0.0, -2.0], "nowhere": [0.0, 0.0]}


def fixed_embed(texts):
    return [VECTORS[text] for text in texts]


def similarity(answer: str, reference: str, embed=fixed_embed):
    return scorer_build("embedding_similarity", embed=embed).score(
        ScoreInput(prompt="q", answer=answer, reference=reference)
    )


def test_the_value_is_the_cosine_of_the_two_embeddings():
    score = similarity("north", "north-east")
    assert score.value == pytest.approx(1 / math.sqrt(2))
    assert similarity("north", "north").value == pytest.approx(1.0)


def test_an_opposite_answer_is_floored_at_zero_and_keeps_its_cosine_as_raw():
    score = similarity("north", "south")
    assert (score.value, score.raw) == (0.0, pytest.approx(-1.0))


def test_a_zero_vector_cannot_be_scored():
    score = similarity("north", "nowhere")
    assert (score.status, score.detail) == ("failed", "the embedder returned an empty or mismatched vector")


def test_a_missing_embedding_model_is_recorded_not_raised():
    def unavailable(texts):
        raise OSError("model folder not found")

    score = similarity("north", "south", embed=unavailable)
    assert (score.status, score.detail) == ("failed", "the embedder is unavailable: model folder not found")


@pytest.mark.skipif(
    not embeddings.is_available(), reason="sentence-transformers or the MiniLM package is absent"
)
def test_the_minilm_model_rates_a_paraphrase_above_an_unrelated_answer():
    scorer = scorer_build("embedding_similarity")
    reference = "The Eiffel Tower is in Paris, the capital of France."

    def rate(answer: str) -> float:
        return scorer.score(
            ScoreInput(prompt="Where is the Eiffel Tower?", answer=answer, reference=reference)
        ).value

    same, paraphrase = rate(reference), rate("You can find the Eiffel Tower in Paris, France's capital city.")
    unrelated = rate("Photosynthesis turns sunlight, water and carbon dioxide into sugar.")
    assert same == pytest.approx(1.0, abs=1e-5)
    assert paraphrase > 0.8 > 0.2 > unrelated
