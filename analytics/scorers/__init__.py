"""Scorers: turn one answer into a quality Score in [0, 1]. Pure, no Django.

    scorer = scorer_build("numeric_answer")
    scorer.score(ScoreInput(prompt=..., answer="... #### 18", reference="18"))
    # Score(scorer="numeric_answer", version="1", value=1.0, raw=18.0, status="scored", detail="18 equals 18")

One module per family: `match` (exact, normalised, token F1), `numeric`, `choice`, `formats` (JSON, JSON
Schema, regex), `confidence` (the cascade's heuristic), `similarity` (embeddings), `judge` (LLM-as-judge),
`feedback` (thumbs and stars). `SCORERS` maps each name to its class.
"""

from analytics.scorers.base import Score, ScoreInput, Scorer
from analytics.scorers.feedback import feedback_value
from analytics.scorers.judge import JUDGE_CACHE, LlmJudge, LruCache
from analytics.scorers.registry import SCORERS, scorer_build, scorer_options

__all__ = [
    "JUDGE_CACHE",
    "SCORERS",
    "LlmJudge",
    "LruCache",
    "Score",
    "ScoreInput",
    "Scorer",
    "feedback_value",
    "scorer_build",
    "scorer_options",
]
