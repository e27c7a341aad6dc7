"""Where router training data comes from: a dataset here, other sources registered by the apps above.

A source turns its parameters into a `TrainingSet`. Experiments owns the `dataset` source; analytics,
which owns quality scores, registers `route` (a route's recorded calls and their scores) at start-up, so
experiments never imports it.
"""

from __future__ import annotations

from collections.abc import Callable

from routing.learning.training import TrainingSet

Source = Callable[..., TrainingSet]
_SOURCES: dict[str, Source] = {}


def register_source(kind: str, build: Source) -> None:
    _SOURCES[kind] = build


def training_source(kind: str) -> Source:
    if kind not in _SOURCES:
        raise ValueError(f"no training source {kind!r}; known: {', '.join(sorted(_SOURCES)) or 'none'}")
    return _SOURCES[kind]
