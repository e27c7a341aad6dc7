"""The cascade's heuristic confidence as a quality score: how sure the answer sounds for its prompt.

The measure itself lives in the routing engine (`routing.policies.cascade.answer_confidence`), so the
score recorded here is exactly the number a cascade escalates on: hedging, length for the question,
structure for a complex question, refusals.
"""

from __future__ import annotations

from analytics.scorers.base import Score, ScoreInput, Scorer
from routing.policies.cascade import answer_confidence
from routing.policies.text import estimate_tokens
from routing.policies.types import RouteRequest


class HeuristicConfidence(Scorer):
    name = "heuristic_confidence"

    def evaluate(self, input: ScoreInput) -> Score:
        request = RouteRequest(text=input.prompt, input_tokens=estimate_tokens(input.prompt))
        confidence = answer_confidence(input.answer, request)
        return self.scored(confidence, raw=confidence)
