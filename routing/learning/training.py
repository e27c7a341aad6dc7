"""What a router is trained on, the seeded split by prompt, and per-model held-out error. Pure.

A `TrainingSet` holds one row per distinct prompt and one column per model: the model's quality for that
prompt in [0, 1], NaN where it is unknown. The split draws whole prompts, so no prompt is both learned
from and scored on: prompts are ordered by their hash, shuffled with `random.Random(seed)`, and the first
round(heldout_fraction x n) are held out.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

DEFAULT_SEED = 0
DEFAULT_HELDOUT = 0.2
MIN_ITEMS_PER_MODEL = 20


class TrainingError(ValueError):
    """The data cannot train a router as asked; the message says why."""


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class TrainingSet:
    """Prompts (distinct), the models, qualities (len(prompts) x len(models), NaN = unknown), the source."""

    prompts: tuple[str, ...]
    models: tuple[str, ...]
    qualities: np.ndarray
    source: dict = field(default_factory=dict)
    excluded: tuple[bool, ...] = ()  # per prompt: contaminated, left out of headline figures

    def __post_init__(self) -> None:
        if self.qualities.shape != (len(self.prompts), len(self.models)):
            raise TrainingError(
                f"qualities must be {len(self.prompts)} x {len(self.models)}, not {self.qualities.shape}"
            )

    @classmethod
    def of_observations(
        cls,
        observed: dict[str, dict[str, list[float]]],
        models: Sequence[str],
        source: dict,
        excluded: Sequence[bool] = (),
    ) -> TrainingSet:
        """From each prompt's observed qualities per model (`{prompt: {model: [q, ...]}}`): one row per
        prompt, one column per model in `models`, the mean of its observations, NaN where there is none."""
        table = np.full((len(observed), len(models)), np.nan)
        for at, qualities in enumerate(observed.values()):
            for column, model in enumerate(models):
                if model in qualities:
                    table[at, column] = float(np.mean(qualities[model]))
        return cls(tuple(observed), tuple(models), table, source, tuple(excluded))

    def counts(self, rows: Sequence[int] | None = None) -> dict[str, int]:
        """Per model, how many prompts hold its quality (among `rows`, or all)."""
        block = self.qualities if rows is None else self.qualities[list(rows)]
        return {model: int((~np.isnan(block[:, j])).sum()) for j, model in enumerate(self.models)}


def training_set_check(data: TrainingSet, minimum: int = MIN_ITEMS_PER_MODEL) -> None:
    """Refuse data that cannot train a router: fewer than two models, or a model with too few items."""
    if len(data.models) < 2:
        raise TrainingError(
            f"a router chooses between models, so it needs the qualities of at least two; this data has "
            f"{len(data.models)} ({', '.join(data.models) or 'none'})"
        )
    short = {model: n for model, n in data.counts().items() if n < minimum}
    if short:
        listed = ", ".join(f"{model} has {n}" for model, n in short.items())
        raise TrainingError(
            f"each model needs at least {minimum} prompts with a quality to learn from: {listed}"
        )
    values = data.qualities[~np.isnan(data.qualities)]
    if values.size and (values.min() < 0 or values.max() > 1 or not np.isfinite(values).all()):
        raise TrainingError("qualities must lie within [0, 1] (divide by the dataset's quality scale)")


@dataclass(frozen=True)
class Split:
    seed: int
    heldout_fraction: float
    train: tuple[int, ...]
    heldout: tuple[int, ...]

    def describe(self, data: TrainingSet) -> dict:
        return {
            "by": "prompt",
            "seed": self.seed,
            "heldout_fraction": self.heldout_fraction,
            "train_prompts": len(self.train),
            "heldout_prompts": len(self.heldout),
            "train_counts": data.counts(self.train),
            "heldout_counts": data.counts(self.heldout),
        }


def split_by_prompt(
    data: TrainingSet, *, seed: int = DEFAULT_SEED, heldout_fraction: float = DEFAULT_HELDOUT
) -> Split:
    """The seeded split of whole prompts into training and held-out rows (see the module's text)."""
    if not (math.isfinite(heldout_fraction) and 0 <= heldout_fraction < 1):
        raise TrainingError(f"the held-out fraction must be within [0, 1), not {heldout_fraction}")
    order = sorted(range(len(data.prompts)), key=lambda row: text_hash(data.prompts[row]))
    random.Random(seed).shuffle(order)
    cut = round(heldout_fraction * len(order))
    return Split(seed, heldout_fraction, tuple(sorted(order[cut:])), tuple(sorted(order[:cut])))


def prediction_errors(predicted: np.ndarray, actual: np.ndarray, models: Sequence[str]) -> dict[str, dict]:
    """Per model over the rows holding its quality: count, mean absolute and mean squared error."""
    errors = {}
    for column, model in enumerate(models):
        mask = ~np.isnan(actual[:, column])
        diff = predicted[mask, column] - actual[mask, column]
        errors[model] = {
            "items": int(mask.sum()),
            "mae": float(np.abs(diff).mean()) if mask.any() else None,
            "mse": float((diff**2).mean()) if mask.any() else None,
            "mean_quality": float(actual[mask, column].mean()) if mask.any() else None,
            "mean_predicted": float(predicted[mask, column].mean()) if mask.any() else None,
        }
    return errors
