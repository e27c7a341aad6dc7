"""What the apps above routing plug into it at start-up, so routing never imports them.

Dependencies run one way (routing <- experiments <- analytics). Where the request path needs something
those apps own, routing names the interface here and they register an implementation in their
`AppConfig.ready()`:

- experiments: the running experiments (`LiveExperiment`s, which assign a user to a variant), and the
  recorded answers the replay provider serves;
- analytics: the validation of a route's `scoring` settings, what happens once calls are stored
  (scoring them), and before old calls are dropped (their scores go too).

Unregistered, routing runs on its own: no experiments, no recorded answers, scoring settings refused
unless empty, nothing done after calls are stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class LiveVariant(Protocol):
    key: str
    policy_version_id: int


class LiveExperiment(Protocol):
    """A running experiment as the hot path sees it: frozen, and able to assign a user with no I/O."""

    id: int
    name: str
    route_id: int
    phase: int

    @property
    def variants(self) -> Sequence[LiveVariant]: ...

    def variant_for(self, user_id: str, metadata: Mapping[str, str]) -> LiveVariant | None:
        """The user's variant, or None when targeting, coverage or a namespace leaves them out."""


class RecordedAnswer(Protocol):
    answer: str
    quality: float | None
    quality_scale: float
    item_id: int


class ScoringInvalid(ValueError):
    """A route's scoring settings are wrong; the message says how."""


@dataclass
class _Hooks:
    running_experiments: Callable[[], Iterable[LiveExperiment]] = lambda: ()
    recorded_answer: Callable[[str, str, str], RecordedAnswer | None] = lambda dataset, model, prompt: None
    scoring_validate: Callable[..., None] | None = None
    calls_stored: list[Callable[[list[str]], None]] = field(default_factory=list)
    calls_expiring: list[Callable[[datetime, datetime], bool]] = field(default_factory=list)


hooks = _Hooks()


def register_experiments(source: Callable[[], Iterable[LiveExperiment]]) -> None:
    """`source()` lists every running experiment; the routing snapshot calls it when it rebuilds."""
    hooks.running_experiments = source


def register_recorded_answers(lookup: Callable[[str, str, str], RecordedAnswer | None]) -> None:
    """`lookup(dataset, model, prompt)` is what a replay provider answers with."""
    hooks.recorded_answer = lookup


def register_scoring_validator(validate: Callable[..., None]) -> None:
    """`validate(scoring, model_enabled=...)` raises `ScoringInvalid` for bad route scoring settings."""
    hooks.scoring_validate = validate


def register_calls_stored(callback: Callable[[list[str]], None]) -> None:
    """`callback(call_ids)` runs after commit for the answered calls of every batch stored."""
    if callback not in hooks.calls_stored:
        hooks.calls_stored.append(callback)


def register_calls_expiring(callback: Callable[[datetime, datetime], bool]) -> None:
    """`callback(start, end)` runs before the calls started in [start, end) are dropped (retention), in the
    same transaction: it removes what refers to them, or returns False to keep them for now."""
    if callback not in hooks.calls_expiring:
        hooks.calls_expiring.append(callback)


def scoring_validate(scoring: Any, *, model_enabled: Callable[[str], bool]) -> None:
    if hooks.scoring_validate is not None:
        hooks.scoring_validate(scoring, model_enabled=model_enabled)
    elif scoring:
        raise ScoringInvalid("no scorers are installed, so scoring settings must be empty")


def calls_stored(call_ids: list[str]) -> None:
    for callback in hooks.calls_stored:
        callback(call_ids)


def calls_expiring(start: datetime, end: datetime) -> bool:
    return all(callback(start, end) for callback in hooks.calls_expiring)
