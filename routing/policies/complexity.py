"""`complexity`: a heuristic score in [0, 1] from the request text, cut into simple / moderate / complex.

    score = min(1, length + keywords + code + questions + maths), where
      length    = weights.length * min(1, input_tokens / long_input_tokens)
      keywords  = weights.keywords * min(2, distinct keywords found)
      code      = weights.code when the text holds a fenced or indented code block
      questions = weights.questions * min(1, (question marks - 1) / 2)
      maths     = weights.math when the text holds formulas or maths vocabulary
    tier = complex if score >= thresholds.complex, moderate if score >= thresholds.moderate, else simple.

With the default weights a code block alone scores 1 and so is complex at any cut point. A feature listed
under `features` overrides the score. Keywords and maths are read in the `scan_window` of a long text.
`score_complexity` is public so the cut points can be swept offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from routing.policies.base import Choice, Eligibility, Policy
from routing.policies.spec import Field, optional
from routing.policies.text import KeywordMatcher, count_questions, has_code, has_math, scan_window
from routing.policies.types import RouteRequest, RoutingContext

TIER_NAMES = ("simple", "moderate", "complex")
DEFAULT_KEYWORDS = (
    "prove", "proof", "derive", "derivation", "implement", "refactor", "optimize", "optimise", "debug",
    "debugging", "analyze", "analyse", "analysis", "step by step", "algorithm", "architecture",
    "trade-off", "trade-offs", "compare and contrast", "in-depth", "edge cases", "concurrency",
    "theorem", "critique", "evaluate", "root cause",
)  # fmt: skip
DEFAULT_WEIGHTS = {"length": 0.4, "keywords": 0.3, "code": 1.0, "questions": 0.3, "math": 0.35}
DEFAULT_THRESHOLDS = {"moderate": 0.25, "complex": 0.6}
DEFAULT_LONG_INPUT_TOKENS = 2000


@dataclass(frozen=True, slots=True)
class ComplexityConfig:
    keywords: KeywordMatcher = field(default_factory=lambda: KeywordMatcher(DEFAULT_KEYWORDS))
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    thresholds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    long_input_tokens: int = DEFAULT_LONG_INPUT_TOKENS

    def tier(self, score: float) -> str:
        if score >= self.thresholds["complex"]:
            return "complex"
        return "moderate" if score >= self.thresholds["moderate"] else "simple"


DEFAULT_CONFIG = ComplexityConfig()


@dataclass(frozen=True, slots=True)
class ComplexityScore:
    value: float
    tier: str
    signals: Mapping[str, float]
    keywords: tuple[str, ...] = ()

    def explain(self) -> str:
        parts = [f"{name} {value:.2f}" for name, value in self.signals.items() if value >= 0.005]
        if self.keywords:
            parts.append("keywords found: " + ", ".join(repr(word) for word in self.keywords))
        return "; ".join(parts) or "no signal"


def score_complexity(
    text: str, input_tokens: int, config: ComplexityConfig = DEFAULT_CONFIG
) -> ComplexityScore:
    """The score and tier of one text (see the module docstring for the formula)."""
    weights = config.weights
    window = scan_window(text)
    lowered = window.lower()
    keywords = config.keywords.find(lowered, lowered=True)
    questions = count_questions(text)
    signals = {
        "length": weights["length"] * min(1.0, input_tokens / config.long_input_tokens),
        "keywords": weights["keywords"] * min(2, len(keywords)),
        "code": weights["code"] if has_code(text) else 0.0,
        "questions": weights["questions"] * min(1.0, (questions - 1) / 2) if questions > 1 else 0.0,
        "math": weights["math"] if has_math(window, lowered) else 0.0,
    }
    value = min(1.0, sum(signals.values()))
    return ComplexityScore(round(value, 4), config.tier(value), signals, tuple(keywords))


def compile_config(fields: dict[str, Field]) -> ComplexityConfig:
    thresholds = dict(DEFAULT_THRESHOLDS)
    if "thresholds" in fields:
        given = fields["thresholds"].obj(optional=("moderate", "complex"))
        thresholds.update({name: value.number(0.0, 1.0) for name, value in given.items()})
        if thresholds["moderate"] >= thresholds["complex"]:
            culprit = given.get("complex") or given["moderate"]
            raise culprit.error("thresholds.moderate must be below thresholds.complex")
    weights = dict(DEFAULT_WEIGHTS)
    if "weights" in fields:
        given = fields["weights"].obj(optional=tuple(DEFAULT_WEIGHTS))
        weights.update({name: value.number(0.0, 1.0) for name, value in given.items()})
    return ComplexityConfig(
        keywords=KeywordMatcher(optional(fields, "keywords", Field.texts, DEFAULT_KEYWORDS)),
        weights=weights,
        thresholds=thresholds,
        long_input_tokens=optional(
            fields, "long_input_tokens", lambda f: f.integer(1), DEFAULT_LONG_INPUT_TOKENS
        ),
    )


def compile_tiers(field: Field) -> dict[str, tuple[str, ...]]:
    fields = field.obj(required=TIER_NAMES)
    return {name: fields[name].models() for name in TIER_NAMES}


class ComplexityPolicy(Policy):
    kind = "complexity"
    required_keys = ("tiers",)
    optional_keys = ("thresholds", "weights", "keywords", "long_input_tokens", "features")

    def __init__(
        self,
        tiers: Mapping[str, tuple[str, ...]],
        config: ComplexityConfig = DEFAULT_CONFIG,
        features: Mapping[str, str] | None = None,
        **common: Any,
    ):
        super().__init__(**common)
        self.tiers = dict(tiers)
        self.config = config
        self.features = dict(features or {})

    @classmethod
    def compile(cls, fields: dict[str, Field], **common: Any) -> ComplexityPolicy:
        features = {}
        if "features" in fields:
            features = {name: value.text(TIER_NAMES) for name, value in fields["features"].mapping().items()}
        return cls(compile_tiers(fields["tiers"]), compile_config(fields), features, **common)

    def models_referenced(self) -> set[str]:
        return {key for keys in self.tiers.values() for key in keys}

    def score(self, request: RouteRequest) -> ComplexityScore:
        return score_complexity(request.text, request.input_tokens, self.config)

    def choose(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility, trace: list[str]
    ) -> Choice:
        scored = self.score(request)
        cuts = self.config.thresholds
        trace.append(
            f"complexity score {scored.value:.2f} ({scored.explain()}) -> {scored.tier}"
            f" (cut points moderate {cuts['moderate']}, complex {cuts['complex']})"
        )
        tier = scored.tier
        if request.feature in self.features:
            tier = self.features[request.feature]
            trace.append(f"feature {request.feature!r} overrides the tier: {tier}")
        higher = TIER_NAMES[TIER_NAMES.index(tier) + 1 :]
        escalation = tuple(key for name in higher for key in self.tiers[name])
        return Choice(self.tiers[tier], escalation, tier=tier, score=scored.value)
