"""`latency_aware`: the model with the lowest live latency among those that succeed often enough.

    {"kind": "latency_aware", "models": ["openai/gpt-4o-mini", "anthropic/claude-haiku"],
     "objective": "p95", "min_success_rate": 0.95, "max_latency_ms": 4000}

Figures come from `RoutingContext.stats` (the caller's rolling window). A model with fewer than
`min_samples` samples is cold: it is assumed as fast as `cold_latency_ms`, or as the fastest warm model,
and ranks first on a tie, so it gets traffic until its own figures speak (optimism under uncertainty).
Models below `min_success_rate` or over `max_latency_ms` rank after the others, most reliable first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from routing.policies.base import Choice, Eligibility, Policy
from routing.policies.spec import Field, optional
from routing.policies.types import ModelStats, RouteRequest, RoutingContext

OBJECTIVES = ("p50", "p95")
DEFAULT_MIN_SAMPLES = 20


@dataclass(frozen=True, slots=True)
class Reading:
    key: str
    latency_ms: float
    success_rate: float
    samples: int
    cold: bool
    acceptable: bool

    def describe(self, objective: str) -> str:
        if self.cold:
            return f"{self.key} cold (n={self.samples}), assumed {self.latency_ms:.0f}ms"
        flag = "" if self.acceptable else " (rejected)"
        figures = f"{objective} {self.latency_ms:.0f}ms, success {self.success_rate:.1%} n={self.samples}"
        return f"{self.key} {figures}{flag}"

    def rank(self, position: int) -> tuple:
        if self.acceptable:
            return 0, self.latency_ms, not self.cold, position
        return 1, -self.success_rate, self.latency_ms, position


class LatencyAwarePolicy(Policy):
    kind = "latency_aware"
    required_keys = ("models",)
    optional_keys = ("objective", "min_success_rate", "max_latency_ms", "min_samples", "cold_latency_ms")

    def __init__(
        self,
        models: tuple[str, ...],
        objective: str = "p50",
        min_success_rate: float = 0.95,
        max_latency_ms: float | None = None,
        min_samples: int = DEFAULT_MIN_SAMPLES,
        cold_latency_ms: float | None = None,
        **common: Any,
    ):
        super().__init__(**common)
        self.models = models
        self.objective = objective
        self.min_success_rate = min_success_rate
        self.max_latency_ms = max_latency_ms
        self.min_samples = min_samples
        self.cold_latency_ms = cold_latency_ms

    @classmethod
    def compile(cls, fields: dict[str, Field], **common: Any) -> LatencyAwarePolicy:
        return cls(
            fields["models"].models(),
            objective=optional(fields, "objective", lambda f: f.text(OBJECTIVES), "p50"),
            min_success_rate=optional(fields, "min_success_rate", lambda f: f.number(0.0, 1.0), 0.95),
            max_latency_ms=optional(fields, "max_latency_ms", lambda f: f.number(1.0)),
            min_samples=optional(fields, "min_samples", lambda f: f.integer(1), DEFAULT_MIN_SAMPLES),
            cold_latency_ms=optional(fields, "cold_latency_ms", lambda f: f.number(0.0)),
            **common,
        )

    def models_referenced(self) -> set[str]:
        return set(self.models)

    def latency(self, stats: ModelStats) -> float:
        return stats.p95_ms if self.objective == "p95" else stats.p50_ms

    def readings(self, keys: list[str], context: RoutingContext) -> list[Reading]:
        warm = {
            k: s for k in keys if (s := context.stats.get(k)) is not None and s.samples >= self.min_samples
        }
        fastest = min((self.latency(s) for s in warm.values()), default=0.0)
        assumed = self.cold_latency_ms if self.cold_latency_ms is not None else fastest
        return [self._reading(key, warm.get(key), context.stats.get(key), assumed) for key in keys]

    def _reading(self, key: str, warm: ModelStats | None, seen: ModelStats | None, assumed: float) -> Reading:
        samples = seen.samples if seen else 0
        if warm is None:
            return Reading(key, assumed, 1.0, samples, cold=True, acceptable=True)
        latency = self.latency(warm)
        acceptable = warm.success_rate >= self.min_success_rate and (
            self.max_latency_ms is None or latency <= self.max_latency_ms
        )
        return Reading(key, latency, warm.success_rate, samples, cold=False, acceptable=acceptable)

    def choose(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility, trace: list[str]
    ) -> Choice:
        keys = [key for key in dict.fromkeys(self.models) if key in eligibility.eligible]
        if not keys:
            return Choice(self.models, escalate=False)
        readings = self.readings(keys, context)
        ranked = [r for _, r in sorted(enumerate(readings), key=lambda pair: pair[1].rank(pair[0]))]
        trace.append("; ".join(r.describe(self.objective) for r in readings))
        limit = f" and {self.objective} <= {self.max_latency_ms:.0f}ms" if self.max_latency_ms else ""
        if ranked[0].acceptable:
            trace.append(f"fastest with success >= {self.min_success_rate:.0%}{limit}: {ranked[0].key}")
        else:
            trace.append(f"no model has success >= {self.min_success_rate:.0%}{limit}: most reliable first")
        return Choice(tuple(r.key for r in ranked), escalate=False)
