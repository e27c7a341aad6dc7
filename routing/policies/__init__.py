"""The routing policy engine: pure, no Django, no I/O. A spec compiles once; `decide` runs per request.

1. `policy = compile_policy(spec)` validates the spec (SpecError names the bad field's path);
   `policy.models_referenced()` lists the keys to check against the registry.
2. For `llm_router` (`policy.needs_classification`), the caller sends `policy.classifier_prompt(request)`
   to `policy.classifier_model`, with its own timeout, and keeps the raw answer (or None).
3. `policy.decide(request, RoutingContext(candidates, stats, budget_remaining, classification, embed))`
   returns the Decision: model, fallbacks, trace; NoEligibleModel when no candidate can serve the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routing.policies.base import Policy, unfit_reason
from routing.policies.cascade import (
    CascadePolicy,
    answer_confidence,
    answer_kind,
    judge_prompt,
    parse_judge_score,
    structured_confidence,
)
from routing.policies.complexity import ComplexityPolicy, ComplexityScore, score_complexity
from routing.policies.cost_aware import CostAwarePolicy
from routing.policies.hybrid import HybridPolicy
from routing.policies.latency_aware import LatencyAwarePolicy
from routing.policies.learned import LearnedPolicy
from routing.policies.llm_router import LlmRouterPolicy, parse_classification
from routing.policies.rules import RulesPolicy
from routing.policies.semantic import SemanticPolicy
from routing.policies.spec import Field
from routing.policies.text import estimate_tokens
from routing.policies.types import (
    Candidate,
    CascadePlan,
    Decision,
    ModelStats,
    NoEligibleModel,
    PolicyError,
    RouteRequest,
    RoutingContext,
    SpecError,
)

KINDS: dict[str, type[Policy]] = {
    cls.kind: cls
    for cls in (
        RulesPolicy,
        ComplexityPolicy,
        SemanticPolicy,
        LlmRouterPolicy,
        CascadePolicy,
        CostAwarePolicy,
        LatencyAwarePolicy,
        HybridPolicy,
        LearnedPolicy,
    )
}


def compile_policy(spec: Mapping[str, Any]) -> Policy:
    """Validate a JSON spec strictly and compile it; raises SpecError with the path of the bad field."""
    root = Field(spec)
    if not isinstance(spec, Mapping):
        raise root.error("a policy spec must be a JSON object")
    if "kind" not in spec:
        raise SpecError("kind", f"is required; one of: {', '.join(KINDS)}")
    kind = root.child("kind").text()
    if kind not in KINDS:
        raise SpecError("kind", f"unknown kind {kind!r}; expected one of: {', '.join(KINDS)}")
    return KINDS[kind].from_spec(spec)


__all__ = [
    "KINDS",
    "LearnedPolicy",
    "Candidate",
    "CascadePlan",
    "ComplexityScore",
    "Decision",
    "ModelStats",
    "NoEligibleModel",
    "Policy",
    "PolicyError",
    "RouteRequest",
    "RoutingContext",
    "SpecError",
    "answer_confidence",
    "answer_kind",
    "compile_policy",
    "estimate_tokens",
    "judge_prompt",
    "parse_classification",
    "parse_judge_score",
    "score_complexity",
    "structured_confidence",
    "unfit_reason",
]
