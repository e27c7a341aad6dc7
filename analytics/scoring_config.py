"""A route's scoring settings (`Route.scoring`): reading them and checking them. Pure, no Django.

The format, every key optional (`{}` means the defaults):

    {
        "scorers": ["heuristic_confidence", "recorded_quality", "regex"],
        "options": {"regex": {"pattern": "Paris", "flags": "i"}},
        "judge": {"model": "simulator/gpt-4o", "sample_rate": 0.1, "rubric": "...", "rubric_version": "v2"}
    }

- `scorers`: the scorers a worker runs on every successful call, by name (see
  `analytics.scorers.SCORERS`); default `["heuristic_confidence", "recorded_quality"]`. `llm_judge` is
  configured under `judge`, and `user_feedback` comes from users through the feedback API, so neither
  is listed here.
- `options`: per listed scorer, the options it is built with (for example a regex's `pattern`, a JSON
  schema's `schema`, a numeric answer's `tolerance`).
- `judge`: the LLM judge. `model` is a registered, enabled model (`<provider>/<model id>`);
  `sample_rate` in [0, 1] is the share of calls judged, chosen deterministically per call id so a
  call is judged or not however often it is scored; `rubric` (and `rubric_version`) replace the default
  rubric. Without `judge`, no call is judged.

`scoring_validate` raises `ScoringConfigError`, whose message names the offending field, such as
`scoring.scorers[1]: unknown scorer 'x'; known scorers: ...`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from analytics.scorers import SCORERS, scorer_build
from routing.hooks import ScoringInvalid

DEFAULT_SCORERS = ("heuristic_confidence", "recorded_quality")
JUDGE = "llm_judge"
FEEDBACK = "user_feedback"
KEYS = ("scorers", "options", "judge")
JUDGE_KEYS = ("model", "sample_rate", "rubric", "rubric_version")
# Options that take code (an embedder, a judge's completer or cache): routelab supplies them, JSON cannot.
CODE_OPTIONS = frozenset({"embed", "complete", "cache", "judge"})


class ScoringConfigError(ScoringInvalid):
    """A bad scoring setting; `path` names it (`scoring.judge.sample_rate`)."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class JudgeSettings:
    model: str
    sample_rate: float
    rubric: str | None = None
    rubric_version: str | None = None

    def samples(self, call_hex: str) -> bool:
        """Whether the call with this hex id is judged: its first 32 bits, as a fraction, under the rate."""
        return int(call_hex[:8], 16) / 2**32 < self.sample_rate


@dataclass(frozen=True)
class ScoringSettings:
    scorers: tuple[str, ...] = DEFAULT_SCORERS
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    judge: JudgeSettings | None = None


def scoring_settings(config: Any) -> ScoringSettings:
    """The settings a config describes, checked for shape and names only (no scorer is built)."""
    if config is None:
        return ScoringSettings()
    if not isinstance(config, Mapping):
        raise ScoringConfigError("scoring", f"must be a JSON object, not {type(config).__name__}")
    if unknown := sorted(set(config) - set(KEYS)):
        raise ScoringConfigError(f"scoring.{unknown[0]}", f"unknown setting; expected {', '.join(KEYS)}")
    scorers = _scorers(config.get("scorers", list(DEFAULT_SCORERS)))
    options = _options(config.get("options", {}), scorers)
    judge = _judge(config["judge"]) if config.get("judge") is not None else None
    return ScoringSettings(scorers=scorers, options=options, judge=judge)


def scoring_validate(config: Any, *, model_enabled: Callable[[str], bool]) -> ScoringSettings:
    """Check a config fully: names, options (each scorer is built once), and the judge's model.

    `model_enabled(key)` says whether `<provider>/<model id>` is registered and enabled.
    """
    settings = scoring_settings(config)
    for name in settings.scorers:
        try:
            scorer_build(name, **settings.options.get(name, {}))
        except ValueError as exc:
            raise ScoringConfigError(f"scoring.options.{name}", str(exc)) from None
    if settings.judge is not None:
        _check_judge(settings.judge, model_enabled)
    return settings


def _scorers(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ScoringConfigError("scoring.scorers", "must be a list of scorer names")
    for index, name in enumerate(value):
        path = f"scoring.scorers[{index}]"
        if name == JUDGE:
            raise ScoringConfigError(
                path, "configure the LLM judge under scoring.judge, with its sample_rate"
            )
        if name == FEEDBACK:
            raise ScoringConfigError(path, "user_feedback comes from the feedback API, not from a scorer run")
        if not isinstance(name, str) or name not in SCORERS:
            known = ", ".join(sorted(set(SCORERS) - {JUDGE, FEEDBACK}))
            raise ScoringConfigError(path, f"unknown scorer {name!r}; known scorers: {known}")
        if name in value[:index]:
            raise ScoringConfigError(path, f"{name!r} is listed twice")
    return tuple(value)


def _options(value: Any, scorers: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise ScoringConfigError("scoring.options", "must be an object mapping scorer names to options")
    for name, options in value.items():
        path = f"scoring.options.{name}"
        if name not in scorers:
            raise ScoringConfigError(path, f"{name!r} is not in scoring.scorers")
        if not isinstance(options, Mapping):
            raise ScoringConfigError(path, "must be an object of options")
        if code := sorted(CODE_OPTIONS & set(options)):
            raise ScoringConfigError(f"{path}.{code[0]}", "is set by routelab, not in the scoring settings")
    return {name: dict(options) for name, options in value.items()}


def _judge(value: Any) -> JudgeSettings:
    if not isinstance(value, Mapping):
        raise ScoringConfigError("scoring.judge", "must be an object with model and sample_rate")
    if unknown := sorted(set(value) - set(JUDGE_KEYS)):
        raise ScoringConfigError(f"scoring.judge.{unknown[0]}", f"unknown; expected {', '.join(JUDGE_KEYS)}")
    model, rate = value.get("model"), value.get("sample_rate")
    if not isinstance(model, str) or "/" not in model.strip("/"):
        raise ScoringConfigError("scoring.judge.model", "must name a model as '<provider>/<model id>'")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ScoringConfigError("scoring.judge.sample_rate", f"must be a number from 0 to 1, not {rate!r}")
    for key in ("rubric", "rubric_version"):
        if value.get(key) is not None and (not isinstance(value[key], str) or not value[key].strip()):
            raise ScoringConfigError(f"scoring.judge.{key}", "must be non-empty text")
    return JudgeSettings(model, float(rate), value.get("rubric"), value.get("rubric_version"))


def _check_judge(judge: JudgeSettings, model_enabled: Callable[[str], bool]) -> None:
    if not model_enabled(judge.model):
        raise ScoringConfigError("scoring.judge.model", f"unknown or disabled model {judge.model!r}")
    try:
        scorer_build(JUDGE, complete=_never_called, judge=judge.model, rubric=judge.rubric)
    except ValueError as exc:
        raise ScoringConfigError("scoring.judge.rubric", str(exc)) from None


def _never_called(messages: list[dict[str, str]]) -> str:
    raise AssertionError("the judge is only built here, never asked")
