"""Model profiles served by the simulator, and a pure estimate of how hard a prompt is.

A profile holds what routing cares about: list price, limits, capabilities, latency, answer length,
the probability of a good answer per task difficulty, and default fault rates. The ladder in
`DEFAULT_PROFILES` uses real list prices, so cost comparisons in the demo are realistic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

Tier = Literal["cheap", "mid", "premium"]
Difficulty = Literal["simple", "moderate", "complex"]
DIFFICULTIES: tuple[Difficulty, ...] = ("simple", "moderate", "complex")
TIERS: tuple[Tier, ...] = ("cheap", "mid", "premium")


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class ModelProfile:
    """One simulated model. `name` is the model id clients send; prices are US dollars per million tokens."""

    name: str
    display_name: str
    tier: Tier
    input_price_per_mtok: Decimal
    output_price_per_mtok: Decimal
    context_window: int
    max_output_tokens: int
    vision: bool = True
    tools: bool = True
    json_mode: bool = True
    ttft_median_ms: float = 500.0
    ttft_sigma: float = 0.35
    tokens_per_second: float = 60.0
    answer_tokens_median: int = 250
    answer_tokens_sigma: float = 0.45
    quality: Mapping[str, float] = field(
        default_factory=lambda: _frozen({"simple": 0.9, "moderate": 0.75, "complex": 0.5}), hash=False
    )
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    cut_stream_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"tier must be one of {TIERS}, not {self.tier!r}")
        if set(self.quality) != set(DIFFICULTIES):
            raise ValueError(f"quality needs exactly the keys {DIFFICULTIES}")
        if any(not 0.0 <= p <= 1.0 for p in self.quality.values()):
            raise ValueError("quality probabilities must lie in [0, 1]")
        rates = (self.error_rate, self.rate_limit_rate, self.timeout_rate, self.cut_stream_rate)
        if any(not 0.0 <= rate <= 1.0 for rate in rates):
            raise ValueError("fault rates must lie in [0, 1]")
        object.__setattr__(self, "quality", _frozen(self.quality))

    def good_probability(self, difficulty: Difficulty) -> float:
        return self.quality[difficulty]


DEFAULT_PROFILES: tuple[ModelProfile, ...] = (
    ModelProfile(
        name="gpt-4o-mini",
        display_name="GPT-4o mini",
        tier="cheap",
        input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.60"),
        context_window=128_000,
        max_output_tokens=16_384,
        ttft_median_ms=350.0,
        ttft_sigma=0.35,
        tokens_per_second=90.0,
        answer_tokens_median=200,
        quality={"simple": 0.93, "moderate": 0.72, "complex": 0.40},
    ),
    ModelProfile(
        name="gpt-4o",
        display_name="GPT-4o",
        tier="mid",
        input_price_per_mtok=Decimal("2.50"),
        output_price_per_mtok=Decimal("10.00"),
        context_window=128_000,
        max_output_tokens=16_384,
        ttft_median_ms=550.0,
        ttft_sigma=0.35,
        tokens_per_second=65.0,
        answer_tokens_median=260,
        quality={"simple": 0.96, "moderate": 0.88, "complex": 0.70},
    ),
    ModelProfile(
        name="claude-opus-4-1",
        display_name="Claude Opus 4.1",
        tier="premium",
        input_price_per_mtok=Decimal("15.00"),
        output_price_per_mtok=Decimal("75.00"),
        context_window=200_000,
        max_output_tokens=32_000,
        ttft_median_ms=1400.0,
        ttft_sigma=0.40,
        tokens_per_second=35.0,
        answer_tokens_median=320,
        quality={"simple": 0.98, "moderate": 0.94, "complex": 0.88},
    ),
)


def profiles_by_name(profiles: tuple[ModelProfile, ...] = DEFAULT_PROFILES) -> dict[str, ModelProfile]:
    by_name = {profile.name: profile for profile in profiles}
    if len(by_name) != len(profiles):
        raise ValueError("profile names must be unique")
    return by_name


_CODE_BLOCK = re.compile(r"```.*?```", re.DOTALL)
_HARD_WORDS = re.compile(
    r"\b(prove|proof|derive|derivation|implement|optimi[sz]e|debug|refactor|step[- ]by[- ]step|"
    r"algorithm|complexity|architecture|trade-?offs?)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w+")


def difficulty_points(text: str) -> int:
    """Evidence of effort a prompt asks for: length, code, demanding verbs and several questions."""
    words = len(_WORD.findall(text))
    points = (words > 60) + (words > 250)
    points += 2 if _CODE_BLOCK.search(text) else 0
    hard_words = len(_HARD_WORDS.findall(text))
    points += min(hard_words + 1, 3) if hard_words else 0
    points += text.count("?") >= 3
    return points


def estimate_difficulty(text: str) -> Difficulty:
    """Classify a prompt as simple, moderate or complex from surface features alone."""
    points = difficulty_points(text)
    if points >= 3:
        return "complex"
    return "moderate" if points >= 1 else "simple"
