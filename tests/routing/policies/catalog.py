"""A small model catalogue, request helpers and one documented spec per kind, shared by the engine tests."""

from __future__ import annotations

from typing import Any

import pytest

from routing.policies import (
    Candidate,
    RouteRequest,
    RoutingContext,
    SpecError,
    compile_policy,
    estimate_tokens,
)

CHEAP = Candidate("sim/cheap", "cheap", 0.15, 0.60, 128_000, 16_384, True, True, True, quality=0.72)
CHEAP_8K = Candidate("sim/cheap-8k", "cheap", 0.10, 0.40, 8_192, 4_096, quality=0.65)
MID = Candidate("sim/mid", "mid", 2.50, 10.0, 128_000, 16_384, True, True, True, quality=0.86)
MID_32K = Candidate("sim/mid-32k", "mid", 1.00, 4.00, 32_768, 8_192, tools=True, quality=0.80)
PREMIUM = Candidate("sim/premium", "premium", 15.0, 75.0, 200_000, 8_192, True, True, True, quality=0.95)
PREMIUM_16K = Candidate("sim/premium-16k", "premium", 10.0, 30.0, 16_384, 4_096, tools=True, quality=0.93)
ALL = (CHEAP, CHEAP_8K, MID, MID_32K, PREMIUM, PREMIUM_16K)
BY_KEY = {candidate.key: candidate for candidate in ALL}

EXAMPLES: dict[str, dict[str, Any]] = {
    "rules": {
        "kind": "rules",
        "rules": [
            {"name": "images", "when": {"has_images": True}, "model": "sim/mid"},
            {
                "name": "code review",
                "when": {"feature": ["code-review", "refactor"], "min_input_tokens": 500},
                "model": "sim/premium",
                "fallbacks": ["sim/mid"],
            },
            {"when": {"keywords": ["prove", "step by step"], "user_tier": "pro"}, "model": "sim/premium-16k"},
            {"when": {"regex": "(?i)\\binvoice\\s+#\\d+"}, "model": "sim/cheap"},
        ],
        "default": "sim/cheap-8k",
    },
    "complexity": {
        "kind": "complexity",
        "tiers": {
            "simple": ["sim/cheap-8k", "sim/cheap"],
            "moderate": ["sim/mid-32k", "sim/mid"],
            "complex": ["sim/premium-16k", "sim/premium"],
        },
        "thresholds": {"moderate": 0.25, "complex": 0.6},
        "features": {"code-review": "complex"},
    },
    "semantic": {
        "kind": "semantic",
        "routes": [
            {
                "name": "billing",
                "model": "sim/cheap",
                "utterances": ["I want a refund for my order", "my invoice shows the wrong amount"],
            },
            {
                "name": "coding",
                "model": "sim/premium",
                "utterances": ["fix this python bug", "write a function that sorts a list"],
            },
        ],
        "threshold": 0.5,
        "default": "sim/mid",
    },
    "llm_router": {
        "kind": "llm_router",
        "classifier_model": "sim/cheap",
        "tiers": {"SIMPLE": ["sim/cheap-8k"], "MODERATE": ["sim/mid"], "COMPLEX": ["sim/premium"]},
        "default_tier": "MODERATE",
    },
    "cascade": {
        "kind": "cascade",
        "chain": ["sim/cheap-8k", "sim/mid", "sim/premium"],
        "threshold": 0.7,
        "check": "heuristic",
    },
    "cost_aware": {
        "kind": "cost_aware",
        "min_quality": 0.8,
        "quality": {"sim/mid-32k": 0.82},
        "expected_output_tokens": 300,
    },
    "latency_aware": {
        "kind": "latency_aware",
        "models": ["sim/cheap", "sim/mid", "sim/premium"],
        "objective": "p95",
        "min_success_rate": 0.95,
        "max_latency_ms": 5000,
    },
    "learned": {
        "kind": "learned",
        "router": "support-knn@v1",
        "models": ["sim/cheap", "sim/premium"],
        "threshold": 0.1,
    },
    "hybrid": {
        "kind": "hybrid",
        "filters": {"capabilities": ["tools"], "max_cost_per_call": 0.05, "min_quality": 0.7},
        "selector": "balanced",
        "weights": {"quality": 0.5, "cost": 0.3, "latency": 0.2},
    },
}


def request(text: str = "Hello there", **fields: Any) -> RouteRequest:
    fields.setdefault("input_tokens", estimate_tokens(text))
    return RouteRequest(text=text, **fields)


def context(**fields: Any) -> RoutingContext:
    fields.setdefault("candidates", ALL)
    return RoutingContext(**fields)


def spec_error(spec: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        compile_policy(spec)
    return caught.value


def example(kind: str, **changes: Any) -> dict[str, Any]:
    """A copy of the kind's example spec with top-level keys changed (None removes a key)."""
    spec = {**EXAMPLES[kind], **changes}
    return {key: value for key, value in spec.items() if value is not None}
