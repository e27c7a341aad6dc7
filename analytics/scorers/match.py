"""Answer against reference as text: exact match, SQuAD-normalised match and SQuAD token F1.

The normalisation and F1 follow the official SQuAD v1.1 evaluation script (Rajpurkar et al., 2016):
lower-case, drop punctuation, drop the articles "a", "an", "the", collapse whitespace. Token F1 is the
harmonic mean of precision and recall over the multiset of shared tokens,

    precision = |common| / |answer tokens|,   recall = |common| / |reference tokens|,
    F1 = 2 precision recall / (precision + recall),

and, as in SQuAD v2, 1 when both sides have no tokens and 0 when only one side has none.
"""

from __future__ import annotations

import re
import string
from collections import Counter

from analytics.scorers.base import Score, ScoreInput, Scorer

ARTICLES = re.compile(r"\b(a|an|the)\b")
PUNCTUATION = frozenset(string.punctuation)


def normalise_answer(text: str) -> str:
    """SQuAD's `normalize_answer`: lower case, no punctuation, no articles, single spaces."""
    text = "".join(char for char in text.lower() if char not in PUNCTUATION)
    return " ".join(ARTICLES.sub(" ", text).split())


def token_f1(answer: str, reference: str) -> float:
    answer_tokens = normalise_answer(answer).split()
    reference_tokens = normalise_answer(reference).split()
    if not answer_tokens or not reference_tokens:
        return float(answer_tokens == reference_tokens)
    common = sum((Counter(answer_tokens) & Counter(reference_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(answer_tokens), common / len(reference_tokens)
    return 2 * precision * recall / (precision + recall)


class ExactMatch(Scorer):
    """1 when the answer equals the reference; surrounding whitespace is ignored unless `strip=False`."""

    name = "exact_match"
    needs_reference = True

    def __init__(self, strip: bool = True):
        self.strip = strip

    def evaluate(self, input: ScoreInput) -> Score:
        answer, reference = input.answer, input.reference or ""
        if self.strip:
            answer, reference = answer.strip(), reference.strip()
        return self.scored(float(answer == reference), detail="equal" if answer == reference else "different")


class NormalisedMatch(Scorer):
    name = "normalised_match"
    needs_reference = True

    def evaluate(self, input: ScoreInput) -> Score:
        answer, reference = normalise_answer(input.answer), normalise_answer(input.reference or "")
        same = answer == reference
        return self.scored(float(same), detail="equal once normalised" if same else "different")


class TokenF1(Scorer):
    name = "token_f1"
    needs_reference = True

    def evaluate(self, input: ScoreInput) -> Score:
        f1 = token_f1(input.answer, input.reference or "")
        return self.scored(f1, raw=f1)
