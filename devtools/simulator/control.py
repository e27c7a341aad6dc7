"""The simulator's runtime state: fault settings per model, request and fault counters, seen-counts.

Fault rates start at each profile's defaults and can be overridden at runtime (`POST /_sim/faults`)
or forced per request (the `X-Sim-Fault` header).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Any

from devtools.simulator.profiles import ModelProfile
from devtools.simulator.wire import RequestError

FAULT_KINDS = ("rate_limit", "error", "timeout", "cut_stream")
RATE_FIELDS = {f"{kind}_rate": kind for kind in FAULT_KINDS}
SECONDS_FIELDS = ("retry_after", "timeout_seconds")
MAX_SECONDS = 3600.0
ALL_MODELS = "*"


@dataclass(frozen=True)
class FaultSettings:
    error_rate: float = 0.0
    rate_limit_rate: float = 0.0
    timeout_rate: float = 0.0
    cut_stream_rate: float = 0.0
    retry_after: float = 1.0
    timeout_seconds: float = 30.0

    @classmethod
    def from_profile(cls, profile: ModelProfile) -> FaultSettings:
        return cls(
            error_rate=profile.error_rate,
            rate_limit_rate=profile.rate_limit_rate,
            timeout_rate=profile.timeout_rate,
            cut_stream_rate=profile.cut_stream_rate,
        )

    def draw(self, rng: random.Random) -> str | None:
        """One uniform draw against the cumulative rates, in the order of FAULT_KINDS."""
        point, edge = rng.random(), 0.0
        for field_name, kind in RATE_FIELDS.items():
            edge += getattr(self, field_name)
            if point < edge:
                return kind
        return None


def _number(body: dict[str, Any], name: str, upper: float) -> float:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"'{name}' must be a number.", param=name)
    if not 0.0 <= value <= upper:
        raise RequestError(f"'{name}' must lie between 0 and {upper:g}, got {value}.", param=name)
    return float(value)


def parse_fault_update(body: dict[str, Any], model_names: list[str]) -> tuple[list[str], dict[str, float]]:
    """Validate a fault override: which models it targets and the fields it changes."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("'model' is required: a model id, or '*' for every model.", param="model")
    if model != ALL_MODELS and model not in model_names:
        raise RequestError(f"The model '{model}' does not exist.", param="model", status=404)
    unknown = sorted(set(body) - {"model", *RATE_FIELDS, *SECONDS_FIELDS})
    if unknown:
        raise RequestError(f"Unknown field '{unknown[0]}'.", param=unknown[0])
    changes = {name: _number(body, name, 1.0) for name in RATE_FIELDS if name in body}
    changes |= {name: _number(body, name, MAX_SECONDS) for name in SECONDS_FIELDS if name in body}
    return (model_names if model == ALL_MODELS else [model]), changes


class FaultBoard:
    """Effective fault settings per model: the profile's defaults unless overridden."""

    def __init__(self, profiles: dict[str, ModelProfile]) -> None:
        self._defaults = {name: FaultSettings.from_profile(profile) for name, profile in profiles.items()}
        self._overrides: dict[str, FaultSettings] = {}

    def settings(self, model: str) -> FaultSettings:
        return self._overrides.get(model) or self._defaults[model]

    def update(self, models: list[str], changes: dict[str, float]) -> None:
        for model in models:
            self._overrides[model] = replace(self.settings(model), **changes)

    def clear(self) -> None:
        self._overrides.clear()

    def snapshot(self) -> dict[str, Any]:
        return {
            model: {**asdict(self.settings(model)), "overridden": model in self._overrides}
            for model in self._defaults
        }


class Stats:
    """Per-model counters that tests read to check where a client sent its traffic."""

    def __init__(self, models: list[str]) -> None:
        self._models = models
        self.reset()

    def reset(self) -> None:
        self._requests: Counter[str] = Counter()
        self._tokens: Counter[tuple[str, str]] = Counter()
        self._faults: Counter[tuple[str, str]] = Counter()

    def record_request(self, model: str, prompt_tokens: int) -> None:
        self._requests[model] += 1
        self._tokens[model, "prompt_tokens"] += prompt_tokens

    def record_fault(self, model: str, kind: str) -> None:
        self._faults[model, kind] += 1

    def record_completion(self, model: str, completion_tokens: int) -> None:
        self._tokens[model, "completion_tokens"] += completion_tokens

    def snapshot(self) -> dict[str, Any]:
        models = {model: self._model_snapshot(model) for model in self._models}
        return {"total_requests": sum(self._requests.values()), "models": models}

    def _model_snapshot(self, model: str) -> dict[str, Any]:
        return {
            "requests": self._requests[model],
            "prompt_tokens": self._tokens[model, "prompt_tokens"],
            "completion_tokens": self._tokens[model, "completion_tokens"],
            "faults": {kind: self._faults[model, kind] for kind in FAULT_KINDS},
        }


class Occurrences:
    """How many times each exact (model, messages) has been seen, so repeats get fresh draws."""

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()

    def next(self, digest: str) -> int:
        self._seen[digest] += 1
        return self._seen[digest]

    def reset(self) -> None:
        self._seen.clear()
