"""Many models on one dataset: each model's point, the cost-quality Pareto frontier, the best single
model, the oracle and the random router, as RouterBench reports them. Pure.

With q[i][m] and c[i][m] the quality and cost of model m on item i (n items):

    point(m)     = (mean_i q[i][m], mean_i c[i][m])
    Pareto       = the models no other model beats on both: none has quality >= and cost <= with one strict
    best single  = the highest mean quality (the cheaper on a tie)
    oracle       = per item the best quality, the cheapest model among those reaching it
    random       = per item a model drawn uniformly: its expectation, the mean over models
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ModelPoint:
    name: str
    quality: float
    cost: float
    pareto: bool = False


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def model_points(names: Sequence[str], quality: Sequence[Sequence[float]], cost: Sequence[Sequence[float]]):
    """Each model's point with its Pareto flag, in the given order."""
    if not quality:
        raise ValueError("no items")
    points = [
        (name, _mean([row[m] for row in quality]), _mean([row[m] for row in cost]))
        for m, name in enumerate(names)
    ]
    return [
        ModelPoint(
            name,
            q,
            c,
            pareto=not any(
                q2 >= q and c2 <= c and (q2 > q or c2 < c) for other, q2, c2 in points if other != name
            ),
        )  # fmt: skip
        for name, q, c in points
    ]


def best_single(points: Sequence[ModelPoint]) -> ModelPoint:
    return max(points, key=lambda point: (point.quality, -point.cost))


def oracle(quality: Sequence[Sequence[float]], cost: Sequence[Sequence[float]]) -> tuple[float, float]:
    """(mean quality, mean cost) when each item goes to the cheapest model with its best quality."""
    chosen = [
        min(range(len(q_row)), key=lambda m: (-q_row[m], c_row[m]))
        for q_row, c_row in zip(quality, cost, strict=True)
    ]
    return (
        _mean([row[m] for row, m in zip(quality, chosen, strict=True)]),
        _mean([row[m] for row, m in zip(cost, chosen, strict=True)]),
    )


def random_point(points: Sequence[ModelPoint]) -> tuple[float, float]:
    return _mean([p.quality for p in points]), _mean([p.cost for p in points])
