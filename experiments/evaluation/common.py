"""What the recorded and the live runs share: their errors, the progress counter and their outcome."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from experiments.evaluation.metrics import CurvePoint
from experiments.models import Evaluation, EvaluationPoint
from routing.models import PolicyVersion

PROGRESS_EVERY = 100

ProgressCallback = Callable[[int, int], None]  # (done, total), called after each save


class EvaluationError(Exception):
    """The dataset or a policy cannot be evaluated as asked; the message says why and ends the run failed."""


class EvaluationAborted(Exception):
    """The evaluation left the running state while the run was under way, so its work is dropped."""


def version_label(version: PolicyVersion) -> str:
    """`<route>/<policy>@v<n>`: unique across routes, and the form the CLI's --policy takes."""
    return f"{version.policy.route.name}/{version.label}"


@dataclass
class Progress:
    """Counts the work done and stores it every `every` steps, with a conditional update: only a running
    evaluation moves, so a run whose row was failed or finished elsewhere stops (EvaluationAborted)."""

    evaluation_id: int
    total: int
    on_save: ProgressCallback | None = None
    every: int = PROGRESS_EVERY
    done: int = 0
    saved: int = field(default=-1, init=False)

    def __post_init__(self) -> None:
        self._store()

    def tick(self, steps: int = 1) -> None:
        self.skip_to(self.done + steps)

    def skip_to(self, done: int) -> None:
        self.done = min(self.total, done)
        if self.done != self.saved and (self.done - self.saved >= self.every or self.done == self.total):
            self._store()

    def _store(self) -> None:
        updated = Evaluation.objects.filter(id=self.evaluation_id, status=Evaluation.Status.RUNNING).update(
            progress_done=self.done, progress_total=self.total
        )
        if not updated:
            raise EvaluationAborted(f"evaluation {self.evaluation_id} is no longer running")
        self.saved = self.done
        if self.on_save is not None:
            self.on_save(self.done, self.total)


@dataclass(frozen=True)
class Outcome:
    """A finished run: the summary stored as the evaluation's results, and its curves' points."""

    results: dict
    points: list[EvaluationPoint] = field(default_factory=list)
    decisions: dict = field(default_factory=dict)


def curve_rows(
    evaluation_id: int, series: str, label: str, curve: Sequence[CurvePoint]
) -> list[EvaluationPoint]:
    """Unsaved EvaluationPoint rows of one curve, in share order."""
    ordered = sorted(curve, key=lambda point: (point.strong_share, point.quality))
    return [
        EvaluationPoint(
            evaluation_id=evaluation_id,
            series=series,
            label=label[:300],
            position=position,
            threshold=point.threshold,
            strong_share=point.strong_share,
            quality=point.quality,
            cost=point.cost,
        )
        for position, point in enumerate(ordered)
    ]
