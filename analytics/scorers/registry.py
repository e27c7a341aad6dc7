"""The registry of scorers by name, and `scorer_build` to make one from a route's scoring settings."""

from __future__ import annotations

import inspect
from typing import Any

from analytics.scorers.base import Scorer
from analytics.scorers.choice import MultipleChoice
from analytics.scorers.confidence import HeuristicConfidence
from analytics.scorers.feedback import UserFeedback
from analytics.scorers.formats import JsonSchema, JsonValid, Regex
from analytics.scorers.judge import LlmJudge
from analytics.scorers.match import ExactMatch, NormalisedMatch, TokenF1
from analytics.scorers.numeric import NumericAnswer
from analytics.scorers.recorded import RecordedQuality
from analytics.scorers.similarity import EmbeddingSimilarity

SCORERS: dict[str, type[Scorer]] = {
    cls.name: cls
    for cls in (
        ExactMatch,
        NormalisedMatch,
        NumericAnswer,
        MultipleChoice,
        TokenF1,
        JsonValid,
        JsonSchema,
        Regex,
        HeuristicConfidence,
        EmbeddingSimilarity,
        LlmJudge,
        UserFeedback,
        RecordedQuality,
    )
}


def scorer_options(name: str) -> dict[str, bool]:
    """The options a scorer takes, each mapped to whether it is required."""
    parameters = inspect.signature(_scorer_class(name)).parameters.values()
    return {p.name: p.default is inspect.Parameter.empty for p in parameters}


def scorer_build(name: str, **options: Any) -> Scorer:
    """A scorer by name; ValueError naming the known scorers (or its options) when they do not fit."""
    cls = _scorer_class(name)
    accepted = scorer_options(name)
    unknown = sorted(set(options) - set(accepted))
    missing = sorted(option for option, required in accepted.items() if required and option not in options)
    if unknown or missing:
        takes = ", ".join(accepted) or "no options"
        problem = f"unknown option(s) {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
        raise ValueError(f"scorer {name!r}: {problem}; it takes {takes}")
    return cls(**options)


def _scorer_class(name: str) -> type[Scorer]:
    try:
        return SCORERS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown scorer {name!r}; known scorers: {', '.join(sorted(SCORERS))}") from None
