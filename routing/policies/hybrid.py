"""`hybrid`: hard filters, then a selector ranks what is left.

    {"kind": "hybrid",
     "filters": {"capabilities": ["tools"], "min_context": 32000, "max_cost_per_call": 0.05,
                 "max_latency_ms": 3000, "min_quality": 0.7},
     "selector": "balanced", "weights": {"quality": 0.5, "cost": 0.3, "latency": 0.2}}

Every candidate must also fit the request (context window, vision, tools), so the model and every
fallback fit. Selectors: quality (highest estimate first), cost (cheapest first), latency (lowest live
latency first, unknown last), balanced (the weighted sum of min-max normalised quality, cheapness and
speed; unknown quality counts 0, unknown latency as the slowest). Nothing passing the filters raises
`NoEligibleModel`, naming why each model was filtered out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from routing.policies.base import Choice, Eligibility, Policy, call_cost, describe_request
from routing.policies.spec import Field, optional
from routing.policies.types import Candidate, NoEligibleModel, RouteRequest, RoutingContext

CAPABILITIES = ("vision", "tools", "json_mode")
FILTER_KEYS = ("capabilities", "min_context", "max_cost_per_call", "max_latency_ms", "min_quality")
SELECTORS = ("quality", "cost", "latency", "balanced")
DEFAULT_WEIGHTS = {"quality": 0.5, "cost": 0.3, "latency": 0.2}
OBJECTIVES = ("p50", "p95")


@dataclass(frozen=True, slots=True)
class Filters:
    capabilities: tuple[str, ...] = ()
    min_context: int | None = None
    max_cost_per_call: float | None = None
    max_latency_ms: float | None = None
    min_quality: float | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    """One candidate's figures for this request."""

    candidate: Candidate
    cost: float
    quality: float | None
    latency_ms: float | None

    @property
    def key(self) -> str:
        return self.candidate.key


def rejection(profile: Profile, filters: Filters) -> str | None:
    """Why `profile` fails the filters, or None when it passes."""
    candidate = profile.candidate
    missing = [name for name in filters.capabilities if not getattr(candidate, name)]
    if missing:
        return "no " + ", ".join(missing)
    if filters.min_context is not None and candidate.context_window < filters.min_context:
        return f"context window {candidate.context_window:,} < {filters.min_context:,}"
    if filters.max_cost_per_call is not None and profile.cost > filters.max_cost_per_call:
        return f"est. cost ${profile.cost:.6f} > ${filters.max_cost_per_call}"
    # No live figures yet is no evidence of slowness: an unmeasured model passes.
    if filters.max_latency_ms is not None and (profile.latency_ms or 0.0) > filters.max_latency_ms:
        return f"latency {profile.latency_ms:.0f}ms > {filters.max_latency_ms:.0f}ms"
    if filters.min_quality is not None and (profile.quality or 0.0) < filters.min_quality:
        return f"quality {profile.quality} < {filters.min_quality}"
    return None


def _spread(values: list[float]) -> Callable[[float], float]:
    """Min-max normalisation onto [0, 1]; all equal maps to 0."""
    low, high = min(values), max(values)
    return (lambda value: (value - low) / (high - low)) if high > low else (lambda value: 0.0)


def balanced_scores(profiles: list[Profile], weights: Mapping[str, float]) -> dict[str, float]:
    """weights.quality * q + weights.cost * (1 - c) + weights.latency * (1 - l), each normalised to [0, 1]."""
    quality = _spread([p.quality or 0.0 for p in profiles])
    cost = _spread([p.cost for p in profiles])
    known = [p.latency_ms for p in profiles if p.latency_ms is not None]
    latency = _spread(known) if known else (lambda value: 0.0)

    def score(p: Profile) -> float:
        speed = 0.0 if p.latency_ms is None else 1.0 - latency(p.latency_ms)
        return (
            weights["quality"] * quality(p.quality or 0.0)
            + weights["cost"] * (1.0 - cost(p.cost))
            + weights["latency"] * speed
        )

    return {p.key: round(score(p), 4) for p in profiles}


def compile_filters(field: Field) -> Filters:
    fields = field.obj(optional=FILTER_KEYS)
    capabilities = ()
    if "capabilities" in fields:
        capabilities = tuple(item.text(CAPABILITIES) for item in fields["capabilities"].items(0))
    return Filters(
        capabilities=tuple(dict.fromkeys(capabilities)),
        min_context=optional(fields, "min_context", lambda f: f.integer(1)),
        max_cost_per_call=optional(fields, "max_cost_per_call", lambda f: f.number(0.0)),
        max_latency_ms=optional(fields, "max_latency_ms", lambda f: f.number(1.0)),
        min_quality=optional(fields, "min_quality", lambda f: f.number(0.0, 1.0)),
    )


def compile_weights(field: Field, selector: str) -> dict[str, float]:
    if selector != "balanced":
        raise field.error("weights only apply to the 'balanced' selector")
    given = field.obj(optional=tuple(DEFAULT_WEIGHTS))
    weights = dict(DEFAULT_WEIGHTS) | {name: value.number(0.0) for name, value in given.items()}
    if sum(weights.values()) <= 0:
        raise field.error("at least one weight must be above 0")
    return weights


class HybridPolicy(Policy):
    kind = "hybrid"
    optional_keys = (
        "filters",
        "selector",
        "weights",
        "models",
        "quality",
        "expected_output_tokens",
        "objective",
    )

    def __init__(
        self,
        filters: Filters | None = None,
        selector: str = "balanced",
        weights: Mapping[str, float] | None = None,
        models: tuple[str, ...] | None = None,
        quality: Mapping[str, float] | None = None,
        expected_output_tokens: int = 300,
        objective: str = "p50",
        **common: Any,
    ):
        super().__init__(**common)
        self.filters = filters or Filters()
        self.selector = selector
        self.weights = dict(weights or DEFAULT_WEIGHTS)
        self.models = models
        self.quality = dict(quality or {})
        self.expected_output_tokens = expected_output_tokens
        self.objective = objective

    @classmethod
    def compile(cls, fields: dict[str, Field], **common: Any) -> HybridPolicy:
        selector = optional(fields, "selector", lambda f: f.text(SELECTORS), "balanced")
        quality = {}
        if "quality" in fields:
            quality = {key: value.number(0.0, 1.0) for key, value in fields["quality"].mapping().items()}
        return cls(
            filters=optional(fields, "filters", compile_filters, Filters()),
            selector=selector,
            weights=optional(fields, "weights", lambda f: compile_weights(f, selector)),
            models=optional(fields, "models", Field.models),
            quality=quality,
            expected_output_tokens=optional(fields, "expected_output_tokens", lambda f: f.integer(1), 300),
            objective=optional(fields, "objective", lambda f: f.text(OBJECTIVES), "p50"),
            **common,
        )

    def models_referenced(self) -> set[str]:
        return {*(self.models or ()), *self.quality}

    def profile(self, candidate: Candidate, request: RouteRequest, context: RoutingContext) -> Profile:
        stats = context.stats.get(candidate.key)
        latency = None if stats is None else (stats.p95_ms if self.objective == "p95" else stats.p50_ms)
        quality = self.quality.get(candidate.key, candidate.quality)
        return Profile(
            candidate, call_cost(candidate, request, self.expected_output_tokens), quality, latency
        )

    def rank(self, profiles: list[Profile], trace: list[str]) -> list[Profile]:
        if self.selector == "quality":
            return sorted(
                profiles, key=lambda p: (-(p.quality if p.quality is not None else -1.0), p.cost, p.key)
            )
        if self.selector == "cost":
            return sorted(profiles, key=lambda p: (p.cost, -(p.quality or 0.0), p.key))
        if self.selector == "latency":
            return sorted(profiles, key=lambda p: (p.latency_ms is None, p.latency_ms or 0.0, p.cost, p.key))
        scores = balanced_scores(profiles, self.weights)
        trace.append("balanced scores: " + ", ".join(f"{key} {value:.3f}" for key, value in scores.items()))
        return sorted(profiles, key=lambda p: (-scores[p.key], p.cost, p.key))

    def apply_filters(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility
    ) -> tuple[list[Profile], dict[str, str]]:
        """The profiles that pass the filters, and why each other eligible model was filtered out."""
        passed, rejected = [], {}
        for candidate in eligibility.eligible.values():
            if self.models is not None and candidate.key not in self.models:
                continue
            profile = self.profile(candidate, request, context)
            if (why := rejection(profile, self.filters)) is None:
                passed.append(profile)
            else:
                rejected[candidate.key] = why
        return passed, rejected

    def choose(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility, trace: list[str]
    ) -> Choice:
        passed, rejected = self.apply_filters(request, context, eligibility)
        if rejected:
            trace.append("filtered out: " + "; ".join(f"{key} ({why})" for key, why in rejected.items()))
        if not passed:
            unfit = {key: eligibility.reason(key) for key in (self.models or eligibility.dropped)}
            reasons = unfit | rejected
            detail = "; ".join(f"{key}: {why}" for key, why in reasons.items()) or "no candidates"
            raise NoEligibleModel(
                f"no model passes the hybrid filters for this request"
                f" ({describe_request(request)}): {detail}",
                reasons,
            )
        ranked = self.rank(passed, trace)
        trace.append(
            f"{len(passed)} model(s) pass the filters; selector {self.selector}: {ranked[0].key} first"
        )
        return Choice(tuple(p.key for p in ranked), escalate=False)
