"""The values the policy engine takes and returns: frozen, free of Django, cheap to build."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

TIERS = ("cheap", "mid", "premium")
TIER_RANK = {tier: rank for rank, tier in enumerate(TIERS)}

Embedder = Callable[[Sequence[str]], Sequence[Sequence[float]]]


class QualityRouter(Protocol):
    """A trained router as the `learned` kind uses it: the models it predicts and one prediction."""

    models: tuple[str, ...]

    def predict_one(self, vector: Sequence[float]) -> dict[str, float]: ...


class PolicyError(Exception):
    """Base of the engine's own errors."""


class SpecError(PolicyError, ValueError):
    """A policy spec is invalid; `path` names the bad field, for example `rules[2].when.min_input_tokens`."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class NoEligibleModel(PolicyError):
    """No candidate can serve the request; `reasons` maps each model key to why it was ruled out."""

    def __init__(self, message: str, reasons: Mapping[str, str] | None = None):
        super().__init__(message)
        self.reasons = dict(reasons or {})


@dataclass(frozen=True, slots=True)
class Candidate:
    """A model the engine may pick, as the registry describes it."""

    key: str
    tier: str
    input_price_per_mtok: float
    output_price_per_mtok: float
    context_window: int
    max_output_tokens: int
    vision: bool = False
    tools: bool = False
    json_mode: bool = False
    quality: float | None = None
    embeddings: bool = False  # an embedding model: it serves embeddings requests and nothing else

    def __post_init__(self) -> None:
        if self.tier not in TIER_RANK:
            raise ValueError(
                f"Candidate {self.key!r}: tier must be one of {', '.join(TIERS)}, not {self.tier!r}"
            )
        if self.quality is not None and not 0.0 <= self.quality <= 1.0:
            raise ValueError(f"Candidate {self.key!r}: quality must be within [0, 1], not {self.quality}")

    @property
    def tier_rank(self) -> int:
        return TIER_RANK[self.tier]

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Estimated USD cost of one call: tokens times the per-million-token prices."""
        return (input_tokens * self.input_price_per_mtok + output_tokens * self.output_price_per_mtok) / 1e6


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What the engine knows about one request."""

    text: str
    input_tokens: int
    feature: str | None = None
    user_tier: str | None = None
    has_images: bool = False
    needs_tools: bool = False
    max_output_tokens: int | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    needs_json: bool = False  # response_format asks for a JSON object or a JSON schema
    needs_embeddings: bool = False  # an embeddings request, which only embedding models serve


@dataclass(frozen=True, slots=True)
class ModelStats:
    """Live figures for one model from the caller's rolling window."""

    p50_ms: float
    p95_ms: float
    success_rate: float
    samples: int


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """Everything that needs I/O, fetched or injected by the caller before `decide`."""

    candidates: tuple[Candidate, ...]
    stats: Mapping[str, ModelStats] = field(default_factory=dict)
    budget_remaining: float | None = None
    classification: str | None = None
    embed: Embedder | None = None
    router: QualityRouter | None = None
    allowed_fallbacks: tuple[str, ...] = ()  # models the route allows as fallbacks beyond the policy's


@dataclass(frozen=True, slots=True)
class CascadePlan:
    """How the executor runs a cascade: call `chain[0]`, score its answer, escalate below `threshold`."""

    chain: tuple[str, ...]
    threshold: float
    check: str
    judge_model: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer: the model, ordered fallbacks, and why."""

    model: str
    fallbacks: tuple[str, ...]
    trace: tuple[str, ...]
    policy_kind: str
    tier: str | None = None
    cascade: CascadePlan | None = None
    score: float | None = None

    def to_json(self) -> dict:
        """The decision as JSON keeps it (a queued job carries it to the worker that executes it)."""
        cascade = self.cascade
        return {
            "model": self.model,
            "fallbacks": list(self.fallbacks),
            "trace": list(self.trace),
            "policy_kind": self.policy_kind,
            "tier": self.tier,
            "score": self.score,
            "cascade": None
            if cascade is None
            else {
                "chain": list(cascade.chain),
                "threshold": cascade.threshold,
                "check": cascade.check,
                "judge_model": cascade.judge_model,
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> Decision:
        cascade = data.get("cascade")
        return cls(
            model=data["model"],
            fallbacks=tuple(data["fallbacks"]),
            trace=tuple(data["trace"]),
            policy_kind=data["policy_kind"],
            tier=data.get("tier"),
            score=data.get("score"),
            cascade=None if cascade is None else CascadePlan(**{**cascade, "chain": tuple(cascade["chain"])}),
        )
