"""User feedback as a score: thumbs up 1 and down 0; stars 1-5 as (stars - 1) / 4.

Feedback comes from users through the API, so a bad value raises ValueError with a message the API can
return as a 400; every other scorer records its problems in the Score instead.
"""

from __future__ import annotations

from typing import Any

from analytics.scorers.base import Score, ScoreInput, Scorer

KINDS = ("thumbs", "stars")
THUMBS = {"up": 1.0, "down": 0.0}


def feedback_value(kind: str, value: Any) -> float:
    """The score in [0, 1] for one piece of feedback; ValueError naming what is wrong."""
    if kind == "thumbs":
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and value.strip().lower() in THUMBS:
            return THUMBS[value.strip().lower()]
        raise ValueError(f"thumbs feedback must be 'up' or 'down' (or true / false), not {value!r}")
    if kind == "stars":
        if isinstance(value, int | float) and not isinstance(value, bool) and value in (1, 2, 3, 4, 5):
            return (value - 1) / 4
        raise ValueError(f"stars feedback must be a whole number from 1 to 5, not {value!r}")
    raise ValueError(f"feedback kind must be one of {', '.join(KINDS)}, not {kind!r}")


class UserFeedback(Scorer):
    """Reads `metadata["feedback_kind"]` and `metadata["feedback_value"]`; skips inputs without feedback."""

    name = "user_feedback"

    def evaluate(self, input: ScoreInput) -> Score:
        kind = input.metadata.get("feedback_kind")
        if kind is None:
            return self.skipped("no feedback")
        return self.convert(kind, input.metadata.get("feedback_value"))

    def convert(self, kind: str, value: Any) -> Score:
        """The Score for one piece of feedback, as the feedback API records it; ValueError when invalid."""
        score = feedback_value(kind, value)
        raw = value if isinstance(value, str) else float(value)
        return self.scored(score, raw=raw, detail=f"{kind}: {value}")
