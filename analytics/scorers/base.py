"""What every scorer takes and returns, and the base class they share.

A scorer turns one answer (with its prompt and, for some, a reference) into a `Score`. It never raises for
anything an answer or a judge model can do: an answer it cannot read is a wrong answer (value 0), a missing
reference is `skipped`, a judge that fails is `failed`; the `detail` says why. Only bad options, which are
the operator's mistake, raise ValueError, at build time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

Status = Literal["scored", "skipped", "failed"]
STATUSES: tuple[Status, ...] = ("scored", "skipped", "failed")


@dataclass(frozen=True)
class ScoreInput:
    prompt: str
    answer: str
    reference: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one answer.

    `value` lies in [0, 1] (1 is best) when `status` is "scored" and is None otherwise; `raw` is what the
    scorer measured before normalising (the judge's 1-10 rating, the extracted number, the chosen letter).
    """

    scorer: str
    version: str
    value: float | None
    raw: float | str | None
    status: Status
    detail: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Score status must be one of {', '.join(STATUSES)}, not {self.status!r}")
        if self.status == "scored" and self.value is None:
            raise ValueError("a scored Score needs a value")
        if self.status != "scored" and self.value is not None:
            raise ValueError(f"a {self.status} Score has no value")

    @property
    def is_scored(self) -> bool:
        return self.status == "scored"


class Scorer:
    """Base of every scorer: subclasses set `name` and `version` and implement `evaluate`.

    Bump `version` whenever a change could move a score, so old and new scores are never averaged together.
    Scorers that compare with a reference set `needs_reference`; `score` then skips inputs without one.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    needs_reference: ClassVar[bool] = False

    def score(self, input: ScoreInput) -> Score:
        if self.needs_reference and input.reference is None:
            return self.skipped("no reference")
        return self.evaluate(input)

    def evaluate(self, input: ScoreInput) -> Score:
        raise NotImplementedError

    def scored(self, value: float, raw: float | str | None = None, detail: str = "") -> Score:
        return Score(self.name, self.version, float(value), raw, "scored", detail)

    def skipped(self, detail: str) -> Score:
        return Score(self.name, self.version, None, None, "skipped", detail)

    def failed(self, detail: str, raw: float | str | None = None) -> Score:
        return Score(self.name, self.version, None, raw, "failed", detail)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} v{self.version}>"
