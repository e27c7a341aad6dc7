"""What every policy kind shares: reading the common spec keys, eligibility, fallback chains, the decision.

A kind only says which models it prefers, in order (`Choice`); the base drops the candidates that cannot
serve the request, picks the first preferred model left, and builds the fallback chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from routing.policies.spec import Field, optional
from routing.policies.types import (
    Candidate,
    CascadePlan,
    Decision,
    NoEligibleModel,
    RouteRequest,
    RoutingContext,
)

COMMON_KEYS = ("kind", "description", "max_fallbacks")
DEFAULT_MAX_FALLBACKS = 3
DEFAULT_OUTPUT_TOKENS = 300


@dataclass(frozen=True, slots=True)
class Choice:
    """A kind's preference: its models in order, the models it escalates to after them, and whether the
    base may add the registry's other models of the same and higher tiers."""

    preferred: tuple[str, ...]
    escalation: tuple[str, ...] = ()
    tier: str | None = None
    escalate: bool = True
    score: float | None = None
    cascade: CascadePlan | None = None


@dataclass(frozen=True, slots=True)
class Eligibility:
    """The candidates that can serve a request (in the caller's order) and why the others cannot."""

    eligible: dict[str, Candidate]
    dropped: dict[str, str]
    everyone: dict[str, Candidate]

    def reason(self, key: str) -> str:
        return self.dropped.get(key, "not among the candidates")


def unfit_reason(candidate: Candidate, request: RouteRequest) -> str | None:
    """Why `candidate` cannot serve `request`, or None when it can."""
    if request.needs_embeddings != candidate.embeddings:
        return "not an embedding model" if request.needs_embeddings else "an embedding model, not a chat one"
    needed = request.input_tokens + (request.max_output_tokens or 0)
    if candidate.context_window < needed:
        return f"context window {candidate.context_window:,} < {needed:,} tokens needed"
    if request.max_output_tokens and candidate.max_output_tokens < request.max_output_tokens:
        return f"max output {candidate.max_output_tokens:,} < {request.max_output_tokens:,} requested"
    if request.has_images and not candidate.vision:
        return "no vision, request has images"
    if request.needs_tools and not candidate.tools:
        return "no tool calling, request needs tools"
    if request.needs_json and not candidate.json_mode:
        return "no structured output, request asks for JSON"
    return None


def check_eligibility(request: RouteRequest, candidates: Iterable[Candidate]) -> Eligibility:
    eligible: dict[str, Candidate] = {}
    dropped: dict[str, str] = {}
    everyone: dict[str, Candidate] = {}
    for candidate in candidates:
        everyone[candidate.key] = candidate
        reason = unfit_reason(candidate, request)
        if reason is None:
            eligible[candidate.key] = candidate
        else:
            dropped[candidate.key] = reason
    return Eligibility(eligible, dropped, everyone)


def describe_request(request: RouteRequest) -> str:
    parts = [f"{request.input_tokens:,} input tokens"]
    if request.max_output_tokens:
        parts.append(f"{request.max_output_tokens:,} output tokens")
    if request.has_images:
        parts.append("images")
    if request.needs_tools:
        parts.append("tools")
    if request.needs_json:
        parts.append("structured output")
    if request.needs_embeddings:
        parts.append("embeddings")
    return ", ".join(parts)


def call_cost(
    candidate: Candidate, request: RouteRequest, output_tokens: int = DEFAULT_OUTPUT_TOKENS
) -> float:
    """Estimated USD cost of this request on `candidate`; the request's max output caps `output_tokens`."""
    if request.max_output_tokens:
        output_tokens = min(output_tokens, request.max_output_tokens)
    return candidate.cost(request.input_tokens, output_tokens)


def escalation_order(rank: int, candidates: Iterable[Candidate], request: RouteRequest) -> list[Candidate]:
    """Candidates at tier `rank` and above: the same tier first, then each higher tier, cheapest first."""
    above = [candidate for candidate in candidates if candidate.tier_rank >= rank]
    return sorted(above, key=lambda c: (c.tier_rank, call_cost(c, request), c.key))


def format_keys(keys: Iterable[str]) -> str:
    return ", ".join(keys) or "none"


class Policy:
    """A compiled, immutable policy. Subclasses set `kind`, their spec keys, `compile` and `choose`."""

    kind: ClassVar[str] = ""
    required_keys: ClassVar[tuple[str, ...]] = ()
    optional_keys: ClassVar[tuple[str, ...]] = ()
    needs_classification: ClassVar[bool] = False
    classifier_model: str | None = None

    def __init__(self, *, description: str = "", max_fallbacks: int = DEFAULT_MAX_FALLBACKS):
        self.description = description
        self.max_fallbacks = max_fallbacks

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Policy:
        fields = Field(spec).obj(
            required=("kind", *cls.required_keys), optional=(*COMMON_KEYS, *cls.optional_keys)
        )
        common = {
            "description": optional(fields, "description", Field.text, ""),
            "max_fallbacks": optional(
                fields, "max_fallbacks", lambda f: f.integer(0, 20), DEFAULT_MAX_FALLBACKS
            ),
        }
        return cls.compile(fields, **common)

    @classmethod
    def compile(cls, fields: dict[str, Field], **common: Any) -> Policy:
        raise NotImplementedError

    def models_referenced(self) -> set[str]:
        raise NotImplementedError

    def serving_models(self) -> frozenset[str]:
        """The models this policy may answer with, first choices, fallbacks and escalations alike (not a
        classifier or a judge)."""
        return frozenset(self.models_referenced() - {self.classifier_model})

    def choose(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility, trace: list[str]
    ) -> Choice:
        raise NotImplementedError

    def classifier_prompt(self, request: RouteRequest) -> list[dict[str, str]]:
        raise TypeError(f"{self.kind} policies do not use a classifier; check needs_classification first")

    def decide(self, request: RouteRequest, context: RoutingContext) -> Decision:
        trace: list[str] = []
        eligibility = check_eligibility(request, context.candidates)
        if eligibility.dropped:
            trace.append(
                "dropped: " + "; ".join(f"{key} ({why})" for key, why in eligibility.dropped.items())
            )
        if not eligibility.eligible:
            raise NoEligibleModel(
                f"no candidate can serve this request ({describe_request(request)})", eligibility.dropped
            )
        choice = self.choose(request, context, eligibility, trace)
        return self._resolve(choice, request, eligibility, trace, context.allowed_fallbacks)

    def _resolve(
        self,
        choice: Choice,
        request: RouteRequest,
        eligibility: Eligibility,
        trace: list[str],
        allowed: tuple[str, ...] = (),
    ) -> Decision:
        for key in dict.fromkeys(choice.preferred):
            if key not in eligibility.eligible:
                trace.append(f"skipped {key}: {eligibility.reason(key)}")
        chain = serving_chain(choice, request, eligibility, self.serving_models())
        if not chain:
            chain = self._last_resort(choice, request, eligibility, trace)
        elif chain[0] not in choice.preferred:
            tier = eligibility.eligible[chain[0]].tier
            trace.append(f"none of the policy's first choices fit; next in line: {chain[0]} ({tier})")
        fallbacks = tuple(chain[1 : 1 + self.max_fallbacks])
        extra = route_fallbacks(allowed, (chain[0], *fallbacks), eligibility, trace)
        trace.append(fallbacks_trace(chain[0], fallbacks, extra))
        return Decision(
            model=chain[0],
            fallbacks=fallbacks + extra,
            trace=tuple(trace),
            policy_kind=self.kind,
            tier=choice.tier,
            cascade=choice.cascade,
            score=choice.score,
        )

    def _last_resort(
        self, choice: Choice, request: RouteRequest, eligibility: Eligibility, trace: list[str]
    ) -> list[str]:
        """Nothing at the intended tier or above fits: the nearest lower tier, unless the kind forbids it."""
        if not choice.escalate:
            reasons = {key: eligibility.reason(key) for key in (*choice.preferred, *choice.escalation)}
            detail = "; ".join(f"{key}: {why}" for key, why in reasons.items()) or "no models"
            raise NoEligibleModel(
                f"none of the {self.kind} policy's models can serve this request"
                f" ({describe_request(request)}): {detail}",
                reasons,
            )
        lower = sorted(
            eligibility.eligible.values(), key=lambda c: (-c.tier_rank, call_cost(c, request), c.key)
        )
        trace.append(
            f"no model at the intended tier or above fits; fell back to {lower[0].key} ({lower[0].tier})"
        )
        return [lower[0].key]


def serving_chain(
    choice: Choice, request: RouteRequest, eligibility: Eligibility, named: frozenset[str] = frozenset()
) -> list[str]:
    """Eligible models in serving order: the policy's preferred models, other models of the same tier,
    the policy's escalation models, then higher tiers (cheapest first within a tier). Fallbacks and
    escalations never leave `named`, the models the policy names: a policy that names two models never
    calls a third."""
    eligible = eligibility.eligible
    explicit = [key for key in choice.preferred if key in eligible]
    escalation = [key for key in choice.escalation if key in eligible]
    if not choice.escalate:
        return list(dict.fromkeys(explicit + escalation))
    anchor = eligible.get(explicit[0]) if explicit else None
    anchor = anchor or (eligibility.everyone.get(choice.preferred[0]) if choice.preferred else None)
    rank = anchor.tier_rank if anchor else 0
    generic = escalation_order(rank, (c for key, c in eligible.items() if key in named), request)
    same = [c.key for c in generic if c.tier_rank == rank]
    higher = [c.key for c in generic if c.tier_rank > rank]
    return list(dict.fromkeys(explicit + same + escalation + higher))


def route_fallbacks(
    allowed: tuple[str, ...], chain: tuple[str, ...], eligibility: Eligibility, trace: list[str]
) -> tuple[str, ...]:
    """The models the route allows as fallbacks, after the policy's chain, in the route's order; those that
    cannot serve the request are left out, and the trace says why."""
    extra = []
    for key in allowed:
        if key in chain or key in extra:
            continue
        if key in eligibility.eligible:
            extra.append(key)
        else:
            trace.append(f"the route allows {key}, which cannot serve: {eligibility.reason(key)}")
    return tuple(extra)


def fallbacks_trace(model: str, named: tuple[str, ...], allowed: tuple[str, ...]) -> str:
    line = f"model {model}; fallbacks (models the policy names): {format_keys(named)}"
    return f"{line}; then (models the route allows): {format_keys(allowed)}" if allowed else line
