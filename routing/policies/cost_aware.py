"""`cost_aware`: the cheapest model whose quality estimate reaches a minimum and whose cost fits the budget.

    {"kind": "cost_aware", "min_quality": 0.8,
     "quality": {"openai/gpt-4o-mini": 0.78, "openai/gpt-4o": 0.9},
     "expected_output_tokens": 300}

cost = (input_tokens * input_price_per_mtok + output_tokens * output_price_per_mtok) / 1e6, with
output_tokens = min(expected_output_tokens, the request's max_output_tokens). Quality comes from `quality`,
else from `Candidate.quality`; a model with neither does not qualify. When the route's remaining budget
fits none of the qualifying models, the budget forces the cheapest eligible model. `models` optionally
limits the pool. Fallbacks follow in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routing.policies.base import Choice, Eligibility, Policy, call_cost
from routing.policies.spec import Field, optional
from routing.policies.types import Candidate, RouteRequest, RoutingContext

DEFAULT_EXPECTED_OUTPUT_TOKENS = 300


def money(value: float) -> str:
    return f"${value:.6f}"


class CostAwarePolicy(Policy):
    kind = "cost_aware"
    required_keys = ("min_quality",)
    optional_keys = ("quality", "expected_output_tokens", "models")

    def __init__(
        self,
        min_quality: float,
        quality: Mapping[str, float] | None = None,
        expected_output_tokens: int = DEFAULT_EXPECTED_OUTPUT_TOKENS,
        models: tuple[str, ...] | None = None,
        **common: Any,
    ):
        super().__init__(**common)
        self.min_quality = min_quality
        self.quality = dict(quality or {})
        self.expected_output_tokens = expected_output_tokens
        self.models = models

    @classmethod
    def compile(cls, fields: dict[str, Field], **common: Any) -> CostAwarePolicy:
        quality = {}
        if "quality" in fields:
            quality = {key: value.number(0.0, 1.0) for key, value in fields["quality"].mapping().items()}
        return cls(
            fields["min_quality"].number(0.0, 1.0),
            quality,
            expected_output_tokens=optional(
                fields, "expected_output_tokens", lambda f: f.integer(1), DEFAULT_EXPECTED_OUTPUT_TOKENS
            ),
            models=optional(fields, "models", Field.models),
            **common,
        )

    def models_referenced(self) -> set[str]:
        return {*self.quality, *(self.models or ())}

    def quality_of(self, candidate: Candidate) -> float | None:
        return self.quality.get(candidate.key, candidate.quality)

    def choose(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility, trace: list[str]
    ) -> Choice:
        pool = [c for c in eligibility.eligible.values() if self.models is None or c.key in self.models]
        if not pool:
            return Choice(self.models or (), escalate=False)
        costs = {c.key: call_cost(c, request, self.expected_output_tokens) for c in pool}
        by_cost = sorted(pool, key=lambda c: (costs[c.key], c.key))
        qualifying = [c for c in by_cost if (q := self.quality_of(c)) is not None and q >= self.min_quality]
        return self._rank(by_cost, qualifying, costs, context.budget_remaining, trace)

    def _rank(
        self,
        by_cost: list[Candidate],
        qualifying: list[Candidate],
        costs: dict[str, float],
        budget: float | None,
        trace: list[str],
    ) -> Choice:
        affordable = [c for c in qualifying if budget is None or costs[c.key] <= budget]
        budget_text = "no budget limit" if budget is None else f"budget left {money(budget)}"
        if affordable:
            best = affordable[0]
            trace.append(
                f"{len(qualifying)} model(s) reach quality {self.min_quality}; cheapest within {budget_text}:"
                f" {best.key} (quality {self.quality_of(best)}, est. {money(costs[best.key])})"
            )
            return Choice(tuple(c.key for c in affordable), escalate=False)
        if qualifying:
            cheapest = by_cost[0]
            trace.append(
                f"{budget_text} fits none of the {len(qualifying)} model(s)"
                f" reaching quality {self.min_quality}"
                f" (cheapest of them {money(costs[qualifying[0].key])}): the budget forced the cheapest"
                f" eligible model {cheapest.key} (est. {money(costs[cheapest.key])})"
            )
            return Choice(tuple(c.key for c in by_cost), escalate=False)
        return self._best_available(by_cost, costs, budget, trace)

    def _best_available(
        self, by_cost: list[Candidate], costs: dict[str, float], budget: float | None, trace: list[str]
    ) -> Choice:
        """No model reaches the bar: the highest estimate that fits the budget, unknown estimates last."""

        def rank(c: Candidate) -> tuple[bool, float, float]:
            over_budget = budget is not None and costs[c.key] > budget
            return (
                over_budget,
                -(self.quality_of(c) if self.quality_of(c) is not None else -1.0),
                costs[c.key],
            )

        ranked = sorted(by_cost, key=rank)
        trace.append(
            f"no eligible model has a quality estimate >= {self.min_quality}: using the highest estimate,"
            f" {ranked[0].key} (quality {self.quality_of(ranked[0])}, est. {money(costs[ranked[0].key])})"
        )
        return Choice(tuple(c.key for c in ranked), escalate=False)
