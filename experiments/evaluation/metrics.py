"""The quality-versus-cost curve of a router between two models, and RouteLLM's summary figures. Pure.

A router sends item i either to the weak (cheap) model or to the strong (expensive) one. With
`strong_i` = 1 when it chose the strong model, over n items:

    strong_share = (1/n) Σ strong_i
    quality      = (1/n) Σ (strong_i · strong_quality_i + (1 - strong_i) · weak_quality_i)
    cost         = (1/n) Σ (strong_i · strong_cost_i + (1 - strong_i) · weak_cost_i)
    cascade cost = (1/n) Σ (weak_cost_i + strong_i · strong_cost_i)   (the weak model answers every item)

Sweeping the router's threshold traces quality against strong share (and against cost). RouteLLM
(Ong et al., "RouteLLM: Learning to Route LLMs with Preference Data", 2024) summarises that curve with

    PGR(q)  = (q - q_weak) / (q_strong - q_weak)              the performance gap recovered
    APGR    = ∫₀¹ PGR(quality(s)) ds = (AUC - q_weak) / (q_strong - q_weak),   AUC = ∫₀¹ quality(s) ds
    CPT(x)  = the smallest strong share s with PGR(quality(s)) >= x     ("call-performance threshold")

where q_weak and q_strong are the single models' mean qualities. AUC is the trapezoid rule over the sweep's
points sorted by share, the curve anchored at (0, q_weak) and (1, q_strong). A curve flat at q_weak scores 0,
one flat at q_strong scores 1, the straight line between them (a random router) 0.5; a router that sends
the strong model exactly the items it wins can score above 1.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

DEFAULT_SWEEP_POINTS = 50


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One routing of the dataset: its threshold (None for a baseline), strong share, quality and cost."""

    threshold: float | None
    strong_share: float
    quality: float
    cost: float = 0.0


def _mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("no items: a curve needs at least one item")
    return math.fsum(values) / len(values)


def _costs(costs: Sequence[float] | None, n: int) -> Sequence[float]:
    if costs is None:
        return [0.0] * n
    if len(costs) != n:
        raise ValueError(f"expected {n} costs, got {len(costs)}")
    return costs


def route_point(
    strong: Sequence[bool],
    weak_quality: Sequence[float],
    strong_quality: Sequence[float],
    *,
    weak_cost: Sequence[float] | None = None,
    strong_cost: Sequence[float] | None = None,
    cascade: bool = False,
    threshold: float | None = None,
) -> CurvePoint:
    """The point of one routing, `strong[i]` true when item i went to the strong model (formulas above)."""
    n = len(strong)
    if not len(weak_quality) == len(strong_quality) == n:
        raise ValueError("strong, weak_quality and strong_quality must have one value per item")
    weak_cost, strong_cost = _costs(weak_cost, n), _costs(strong_cost, n)
    quality = _mean([sq if s else wq for s, wq, sq in zip(strong, weak_quality, strong_quality, strict=True)])
    paid = [
        (wc if cascade or not s else 0.0) + (sc if s else 0.0)
        for s, wc, sc in zip(strong, weak_cost, strong_cost, strict=True)
    ]
    return CurvePoint(threshold, sum(map(bool, strong)) / n, quality, _mean(paid))


def routes_strong(score: float, threshold: float, strong_below: bool = False) -> bool:
    """score >= threshold sends to the strong model; with `strong_below`, score < threshold does."""
    return score < threshold if strong_below else score >= threshold


def threshold_sweep(
    scores: Sequence[float],
    weak_quality: Sequence[float],
    strong_quality: Sequence[float],
    thresholds: Sequence[float],
    *,
    weak_cost: Sequence[float] | None = None,
    strong_cost: Sequence[float] | None = None,
    strong_below: bool = False,
    cascade: bool = False,
) -> list[CurvePoint]:
    """One point per threshold t: item i goes strong when scores[i] >= t.

    A cascade sets `strong_below` (it escalates while the weak answer's confidence is under t) and `cascade`
    (the weak call is paid on every item).
    """
    return [
        route_point(
            [routes_strong(score, threshold, strong_below) for score in scores],
            weak_quality,
            strong_quality,
            weak_cost=weak_cost,
            strong_cost=strong_cost,
            cascade=cascade,
            threshold=threshold,
        )
        for threshold in thresholds
    ]


def sweep_thresholds(scores: Sequence[float], max_points: int = DEFAULT_SWEEP_POINTS) -> list[float]:
    """Thresholds whose sweep runs from every item strong to none (or back, with `strong_below`).

    The cut points are every distinct score when there are at most `max_points - 1`, else the scores at
    the quantiles k / (max_points - 1) for k = 0 .. max_points - 2, so the shares step evenly; then one
    threshold just above the largest score. Past the smallest, each cut sits halfway between its score and
    the next lower one: the same items fall on each side, and a policy published at that threshold splits
    them the same way although a score recomputed online differs in its last bits.
    """
    ordered = sorted(scores)
    if not ordered:
        raise ValueError("no scores to sweep")
    if max_points < 3:
        raise ValueError(f"a sweep needs at least 3 points, not {max_points}")
    distinct = list(dict.fromkeys(ordered))
    steps = max_points - 1
    if len(distinct) > steps:
        n = len(ordered)
        distinct = list(dict.fromkeys(ordered[k * n // steps] for k in range(steps)))
    cuts = [distinct[0]]
    for value in distinct[1:]:
        below = ordered[bisect.bisect_left(ordered, value) - 1]
        cuts.append((below + value) / 2)
    return [*cuts, math.nextafter(ordered[-1], math.inf)]


def anchored_curve(points: Sequence[CurvePoint], weak: float, strong: float) -> list[tuple[float, float]]:
    """(share, quality) pairs sorted by share, starting at (0, weak) and ending at (1, strong)."""
    inner = sorted((point.strong_share, point.quality) for point in points)
    return [(0.0, weak), *inner, (1.0, strong)]


def area_under(curve: Sequence[tuple[float, float]]) -> float:
    """The trapezoid rule: Σ (s₁ - s₀) (q₀ + q₁) / 2 over consecutive (share, quality) pairs."""
    return math.fsum((s1 - s0) * (q0 + q1) / 2 for (s0, q0), (s1, q1) in pairwise(curve))


def apgr(points: Sequence[CurvePoint], weak: float, strong: float) -> float | None:
    """(AUC - weak) / (strong - weak) over the anchored curve; None when strong is not above weak."""
    gap = strong - weak
    if not gap > 0:
        return None
    return (area_under(anchored_curve(points, weak, strong)) - weak) / gap


def cpt(points: Sequence[CurvePoint], weak: float, strong: float, fraction: float) -> float | None:
    """The smallest strong share whose quality reaches weak + fraction · (strong - weak).

    Walks the anchored curve by share and interpolates linearly inside the first segment that crosses the
    target. RouteLLM reads it with `np.interp(target, quality, share)`, which agrees on a curve rising
    with share; this walk also answers for curves that dip. None when strong is not above weak.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be within [0, 1], not {fraction}")
    gap = strong - weak
    if not gap > 0:
        return None
    target = weak + fraction * gap
    for (s0, q0), (s1, q1) in pairwise(anchored_curve(points, weak, strong)):
        if q0 >= target:
            return s0
        if q1 >= target:
            return s0 + (target - q0) * (s1 - s0) / (q1 - q0)
    return 1.0  # only floating-point rounding of the target above `strong` gets here


def _top_k_mask(order: Sequence[int], k: int) -> list[bool]:
    mask = [False] * len(order)
    for index in order[:k]:
        mask[index] = True
    return mask


def _average(points: Sequence[CurvePoint]) -> CurvePoint:
    return CurvePoint(
        None,
        _mean([p.strong_share for p in points]),
        _mean([p.quality for p in points]),
        _mean([p.cost for p in points]),
    )


def random_router_curve(
    weak_quality: Sequence[float],
    strong_quality: Sequence[float],
    shares: Sequence[float],
    rng: random.Random,
    *,
    weak_cost: Sequence[float] | None = None,
    strong_cost: Sequence[float] | None = None,
    repeats: int = 1,
) -> list[CurvePoint]:
    """RouteLLM's random router: a uniform score per item; at share s the round(s · n) highest go strong.

    Its expected quality at share s is q_weak + s (q_strong - q_weak), so its APGR is 0.5 up to sampling
    noise; the points average `repeats` independent draws to shrink that noise.
    """
    n = len(weak_quality)
    runs = []
    for _ in range(max(1, repeats)):
        order = list(range(n))
        rng.shuffle(order)
        runs.append(
            [
                route_point(
                    _top_k_mask(order, round(share * n)),
                    weak_quality,
                    strong_quality,
                    weak_cost=weak_cost,
                    strong_cost=strong_cost,
                )
                for share in shares
            ]
        )
    return [_average(column) for column in zip(*runs, strict=True)]


def single_model_points(
    weak_quality: Sequence[float],
    strong_quality: Sequence[float],
    *,
    weak_cost: Sequence[float] | None = None,
    strong_cost: Sequence[float] | None = None,
) -> tuple[CurvePoint, CurvePoint]:
    """The two baselines: every item to the weak model (share 0), every item to the strong one (share 1)."""
    n = len(weak_quality)
    costs = {"weak_cost": weak_cost, "strong_cost": strong_cost}
    return (
        route_point([False] * n, weak_quality, strong_quality, **costs),
        route_point([True] * n, weak_quality, strong_quality, **costs),
    )


BOOTSTRAP_REPLICATES = 1000
BOOTSTRAP_SEED = 0


def curve_intervals(
    scores: Sequence[float],
    weak_quality: Sequence[float],
    strong_quality: Sequence[float],
    *,
    strong_below: bool = False,
    level: float = 0.95,
    replicates: int = BOOTSTRAP_REPLICATES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, tuple[float | None, float | None, float | None]]:
    """A swept router's APGR, CPT(50%) and CPT(80%), each with its percentile-bootstrap interval:
    `{"apgr": (point, low, high), "cpt50": ..., "cpt80": ...}`.

    Each replicate redraws the n items with replacement (a multinomial count per item), re-derives the
    single models' qualities and the sweep's shares and qualities at the same thresholds, and the
    figures with `apgr` and `cpt`; an interval holds the middle `level` of the replicates (those with no
    weak-to-strong gap are left out). The points are the figures of the full sample, the thresholds those
    of `sweep_thresholds(scores)`.
    """
    thresholds = sweep_thresholds(scores)
    s, weak, strong = (
        np.asarray(values, dtype=np.float64) for values in (scores, weak_quality, strong_quality)
    )
    cut = np.asarray(thresholds)
    mask = (s[:, None] < cut[None, :]) if strong_below else (s[:, None] >= cut[None, :])  # (n x t)
    n = len(s)
    counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=replicates).astype(float)
    weights = np.vstack([np.ones(n), counts]) / n  # row 0: the sample itself
    q_weak, q_strong = weights @ weak, weights @ strong
    shares, qualities = weights @ mask, weights @ (weak[:, None] + mask * (strong - weak)[:, None])
    figures: dict[str, list[float]] = {"apgr": [], "cpt50": [], "cpt80": []}
    for row in range(weights.shape[0]):
        curve = [
            CurvePoint(float(t), float(share), float(quality))
            for t, share, quality in zip(thresholds, shares[row], qualities[row], strict=True)
        ]
        low_q, high_q = float(q_weak[row]), float(q_strong[row])
        for name, value in (
            ("apgr", apgr(curve, low_q, high_q)),
            ("cpt50", cpt(curve, low_q, high_q, 0.5)),
            ("cpt80", cpt(curve, low_q, high_q, 0.8)),
        ):
            figures[name].append(math.nan if value is None else value)
    return {name: _interval(values, level) for name, values in figures.items()}


def _interval(values: list[float], level: float) -> tuple[float | None, float | None, float | None]:
    point, rest = values[0], np.asarray(values[1:])
    rest = rest[~np.isnan(rest)]
    if math.isnan(point):
        return None, None, None
    if not rest.size:
        return point, None, None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(rest, [tail, 100 - tail])
    return point, float(low), float(high)
