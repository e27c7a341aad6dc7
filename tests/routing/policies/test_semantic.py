"""The `semantic` kind with a deterministic bag-of-words embedder; the real model is in test_embeddings.py."""

import re
import zlib

import pytest

from routing.policies import compile_policy
from tests.routing.policies.catalog import EXAMPLES, context, example, request, spec_error

DIMENSIONS = 256


def bag_of_words(texts):
    """Each word hashed into one of DIMENSIONS buckets: texts sharing words point the same way."""
    vectors = []
    for text in texts:
        vector = [0.0] * DIMENSIONS
        for word in re.findall(r"[a-z]+", text.lower()):
            vector[zlib.crc32(word.encode()) % DIMENSIONS] += 1.0
        vectors.append(vector)
    return vectors


class CountingEmbedder:
    def __init__(self):
        self.calls = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        return bag_of_words(texts)


def decide(text, embed=bag_of_words, spec=None):
    policy = compile_policy(spec or EXAMPLES["semantic"])
    return policy.decide(request(text), context(embed=embed))


def test_the_request_goes_to_the_route_with_the_nearest_utterance():
    decision = decide("I want a refund for my last order")

    assert decision.model == "sim/cheap"
    assert decision.score > 0.5
    assert decision.trace[0].startswith("nearest route 'billing': similarity")


def test_another_request_goes_to_another_route():
    assert decide("please fix this bug in my python script").model == "sim/premium"


def test_below_the_threshold_the_default_serves_and_the_trace_gives_the_best_score():
    decision = decide("what a lovely sunny afternoon")

    assert decision.model == "sim/mid"
    assert re.match(
        r"nearest route '\w+' scores 0\.\d{3} < threshold 0\.5: default sim/mid", decision.trace[0]
    )


def test_utterances_are_embedded_once_per_policy_and_the_text_once_per_call():
    embedder = CountingEmbedder()
    policy = compile_policy(EXAMPLES["semantic"])

    policy.decide(request("refund please"), context(embed=embedder))
    policy.decide(request("fix my bug"), context(embed=embedder))

    assert [len(call) for call in embedder.calls] == [4, 1, 1]
    assert embedder.calls[1] == ["refund please"]


def test_a_different_embedder_gets_its_own_utterance_embeddings():
    first, second = CountingEmbedder(), CountingEmbedder()
    policy = compile_policy(EXAMPLES["semantic"])

    policy.decide(request("refund please"), context(embed=first))
    policy.decide(request("refund please"), context(embed=second))

    assert [len(call) for call in second.calls] == [4, 1]


def test_without_an_embedder_the_default_serves():
    decision = decide("I want a refund", embed=None)

    assert decision.model == "sim/mid"
    assert decision.trace[0] == "no embedder given: default sim/mid"


def test_a_failing_embedder_degrades_to_the_default_with_the_error_in_the_trace():
    def broken(texts):
        raise TimeoutError("model server busy")

    decision = decide("I want a refund", embed=broken)

    assert decision.model == "sim/mid"
    assert decision.trace[0] == "embedding failed (TimeoutError: model server busy): default sim/mid"


def test_an_embedder_returning_the_wrong_shape_degrades_to_the_default():
    decision = decide("I want a refund", embed=lambda texts: [[1.0, 0.0]])

    assert decision.model == "sim/mid"
    assert "embedding failed (ValueError" in decision.trace[0]


def test_a_route_s_fallbacks_lead_the_chain():
    spec = example("semantic")
    spec["routes"] = [{**spec["routes"][0], "fallbacks": ["sim/premium-16k"]}, spec["routes"][1]]

    assert decide("I want a refund for my order", spec=spec).fallbacks[0] == "sim/premium-16k"


def test_a_zero_threshold_always_picks_a_route():
    assert decide("what a lovely sunny afternoon", spec=example("semantic", threshold=0)).model != "sim/mid"


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"threshold": 1.2}, "threshold", "at most 1.0"),
        ({"routes": []}, "routes", "must not be empty"),
        (
            {"routes": [{"name": "a", "model": "m", "utterances": []}]},
            "routes[0].utterances",
            "must not be empty",
        ),
        ({"routes": [{"name": "a", "model": "m"}]}, "routes[0].utterances", "required"),
        (
            {
                "routes": [
                    {"name": "a", "model": "m", "utterances": ["x"]},
                    {"name": "a", "model": "n", "utterances": ["y"]},
                ]
            },
            "routes[1].name",
            "duplicate route name",
        ),
        ({"default": None}, "default", "required"),
    ],
)
def test_a_bad_semantic_spec_is_reported_with_its_path(changes, path, words):
    error = spec_error(example("semantic", **changes))

    assert error.path == path
    assert words in error.message
