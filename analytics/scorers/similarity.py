"""Embedding similarity: the cosine of the answer's and the reference's embeddings, floored at 0.

    cos(a, r) = a . r / (|a| |r|),   value = max(0, cos)

The default embedder is the local MiniLM model of the semantic policy (`routing.policies.embeddings`),
loaded on first use; tests and callers may inject any `texts -> vectors` callable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from analytics.scorers.base import Score, ScoreInput, Scorer
from routing.policies.embeddings import embed

Embedder = Callable[[Sequence[str]], Sequence[Sequence[float]]]


def cosine(a: Sequence[float], b: Sequence[float]) -> float | None:
    """The cosine of two vectors, or None when either has no length."""
    a, b = [float(x) for x in a], [float(x) for x in b]
    norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(x * x for x in b))
    if len(a) != len(b) or norms == 0:
        return None
    return sum(x * y for x, y in zip(a, b, strict=True)) / norms


def _default_embed(texts: Sequence[str]) -> Sequence[Sequence[float]]:
    return embed(texts)


class EmbeddingSimilarity(Scorer):
    name = "embedding_similarity"
    needs_reference = True

    def __init__(self, embed: Embedder | None = None):
        self.embed = embed or _default_embed

    def evaluate(self, input: ScoreInput) -> Score:
        try:
            answer, reference = self.embed([input.answer, input.reference or ""])
        except (ImportError, OSError) as exc:
            return self.failed(f"the embedder is unavailable: {exc}")
        similarity = cosine(answer, reference)
        if similarity is None:
            return self.failed("the embedder returned an empty or mismatched vector")
        similarity = min(1.0, similarity)
        return self.scored(max(0.0, similarity), raw=similarity)
