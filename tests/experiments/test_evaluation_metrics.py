"""The quality-versus-cost curve maths: sweeps, APGR, CPT and the baselines, on hand-computed examples."""

from __future__ import annotations

import math
import random
from itertools import pairwise

import numpy as np
import pytest

from experiments.evaluation.metrics import (
    CurvePoint,
    anchored_curve,
    apgr,
    cpt,
    random_router_curve,
    route_point,
    single_model_points,
    sweep_thresholds,
    threshold_sweep,
)

# Four items: the weak model gets items 0 and 3 right, the strong one all four. Means 0.5 and 1.
WEAK = [1.0, 0.0, 0.0, 1.0]
STRONG = [1.0, 1.0, 1.0, 1.0]
WEAK_COST = [1.0, 1.0, 1.0, 1.0]
STRONG_COST = [10.0, 10.0, 10.0, 10.0]
ORACLE_SCORES = [0.0, 1.0, 1.0, 0.0]  # high exactly where the strong model wins


def line(weak: float, strong: float, shares: list[float]) -> list[CurvePoint]:
    return [CurvePoint(None, share, weak + share * (strong - weak)) for share in shares]


def test_a_routing_averages_the_chosen_models_quality_and_cost():
    point = route_point(
        [False, True, False, True], WEAK, STRONG, weak_cost=WEAK_COST, strong_cost=STRONG_COST, threshold=0.5
    )

    assert point == CurvePoint(0.5, 0.5, 0.75, 5.5)


def test_a_cascade_pays_the_weak_call_on_every_item_and_the_strong_one_when_it_escalates():
    point = route_point(
        [False, True, False, True], WEAK, STRONG, weak_cost=WEAK_COST, strong_cost=STRONG_COST, cascade=True
    )

    assert (point.strong_share, point.quality, point.cost) == (0.5, 0.75, 6.0)


def test_a_sweep_sends_an_item_strong_when_its_score_reaches_the_threshold():
    points = threshold_sweep(ORACLE_SCORES, WEAK, STRONG, [0.0, 1.0, 2.0])

    assert [(p.threshold, p.strong_share, p.quality) for p in points] == [
        (0.0, 1.0, 1.0),
        (1.0, 0.5, 1.0),
        (2.0, 0.0, 0.5),
    ]


def test_a_cascade_sweep_escalates_while_the_confidence_is_below_the_threshold():
    confidence = [0.9, 0.2, 0.4, 0.95]

    points = threshold_sweep(
        confidence, WEAK, STRONG, [0.3, 0.5], weak_cost=WEAK_COST, strong_cost=STRONG_COST, strong_below=True
    )

    assert [(p.strong_share, p.quality) for p in points] == [(0.25, 0.75), (0.5, 1.0)]


def test_sweep_thresholds_run_from_every_item_strong_to_none_in_both_directions():
    scores = [0.3, 0.1, 0.3, 0.7]

    thresholds = sweep_thresholds(scores)
    upward = threshold_sweep(scores, WEAK, STRONG, thresholds)
    downward = threshold_sweep(scores, WEAK, STRONG, thresholds, strong_below=True)

    assert thresholds[:3] == [0.1, 0.2, 0.5] and thresholds[3] > 0.7  # halfway between scores
    assert [p.strong_share for p in upward] == [1.0, 0.75, 0.25, 0.0]
    assert [p.strong_share for p in downward] == [0.0, 0.25, 0.75, 1.0]


def test_many_distinct_scores_are_swept_at_quantiles_so_shares_step_evenly():
    scores = [i / 1000 for i in range(1000)]

    thresholds = sweep_thresholds(scores, max_points=11)
    shares = [p.strong_share for p in threshold_sweep(scores, [0.0] * 1000, [1.0] * 1000, thresholds)]

    assert len(thresholds) == 11
    assert shares[0] == 1.0 and shares[-1] == 0.0
    assert [round(a - b, 6) for a, b in pairwise(shares)] == [0.1] * 10


def test_the_straight_line_from_weak_to_strong_has_apgr_one_half_and_cpt_equal_to_the_fraction():
    points = line(0.6, 0.9, [0.0, 0.25, 0.5, 0.75, 1.0])

    assert apgr(points, 0.6, 0.9) == pytest.approx(0.5)
    assert cpt(points, 0.6, 0.9, 0.5) == pytest.approx(0.5)
    assert cpt(points, 0.6, 0.9, 0.8) == pytest.approx(0.8)


def test_the_perfect_router_recovers_the_gap_with_the_fewest_strong_calls():
    # Anchored curve (0, .5) (.5, 1) (1, 1): AUC = .5 * .75 + .5 * 1 = .875, APGR = (.875 - .5) / .5 = .75.
    points = threshold_sweep(ORACLE_SCORES, WEAK, STRONG, sweep_thresholds(ORACLE_SCORES))

    assert apgr(points, 0.5, 1.0) == pytest.approx(0.75)
    assert cpt(points, 0.5, 1.0, 0.5) == pytest.approx(0.25)  # quality .75 halfway up the first segment
    assert cpt(points, 0.5, 1.0, 0.8) == pytest.approx(0.4)


def test_a_router_that_sends_the_wrong_items_scores_below_one_half():
    backwards = [1.0 - score for score in ORACLE_SCORES]

    points = threshold_sweep(backwards, WEAK, STRONG, sweep_thresholds(backwards))

    assert apgr(points, 0.5, 1.0) == pytest.approx(0.25)
    assert cpt(points, 0.5, 1.0, 0.5) == pytest.approx(0.75)


def test_flat_curves_at_the_weak_and_strong_quality_score_zero_and_one():
    shares = [0.0, 0.3, 0.6, 1.0]

    assert apgr([CurvePoint(None, s, 0.6) for s in shares], 0.6, 0.9) == pytest.approx(0.0)
    assert apgr([CurvePoint(None, s, 0.9) for s in shares], 0.6, 0.9) == pytest.approx(1.0)


def test_apgr_agrees_with_routellms_trapezoid_formula_on_a_curve_spanning_every_share():
    shares = np.array([0.0, 0.1, 0.3, 0.45, 0.7, 0.9, 1.0])
    quality = np.array([0.6384, 0.70, 0.74, 0.80, 0.83, 0.85, 0.8567])
    weak, strong = 0.6384, 0.8567
    # routellm/evals/evaluate.py: (AUC - weak AUC) / (strong AUC - weak AUC), trapezoids over the shares.
    reference = (np.trapezoid(quality, shares) - weak) / (strong - weak)

    points = [CurvePoint(None, float(s), float(q)) for s, q in zip(shares, quality, strict=True)]

    assert apgr(points, weak, strong) == pytest.approx(float(reference), abs=1e-12)


def test_cpt_agrees_with_numpy_interpolation_on_a_rising_curve():
    shares = [0.0, 0.2, 0.5, 0.8, 1.0]
    quality = [0.60, 0.70, 0.76, 0.85, 0.90]
    points = [CurvePoint(None, s, q) for s, q in zip(shares, quality, strict=True)]

    for fraction in (0.2, 0.5, 0.8):
        target = 0.60 + fraction * 0.30
        assert cpt(points, 0.60, 0.90, fraction) == pytest.approx(float(np.interp(target, quality, shares)))


def test_cpt_takes_the_first_crossing_of_a_curve_that_dips_afterwards():
    points = [CurvePoint(None, 0.2, 0.8), CurvePoint(None, 0.5, 0.65), CurvePoint(None, 0.8, 0.85)]

    assert cpt(points, 0.6, 0.9, 0.5) == pytest.approx(0.15 / 0.2 * 0.2)  # on the segment (0, .6)-(.2, .8)


def test_without_a_gap_between_the_models_apgr_and_cpt_are_undefined():
    points = line(0.7, 0.7, [0.0, 0.5, 1.0])

    assert apgr(points, 0.7, 0.7) is None
    assert cpt(points, 0.7, 0.7, 0.5) is None
    with pytest.raises(ValueError, match="fraction"):
        cpt(points, 0.6, 0.9, 1.5)


def test_the_anchored_curve_starts_at_the_weak_model_and_ends_at_the_strong_one():
    curve = anchored_curve([CurvePoint(1.0, 0.5, 0.8), CurvePoint(2.0, 0.2, 0.7)], 0.6, 0.9)

    assert curve == [(0.0, 0.6), (0.2, 0.7), (0.5, 0.8), (1.0, 0.9)]


def test_the_random_router_scores_an_apgr_close_to_one_half():
    rng = random.Random(7)
    weak = [float(rng.random() < 0.64) for _ in range(2000)]
    strong = [float(rng.random() < 0.86) for _ in range(2000)]
    shares = [k / 20 for k in range(21)]

    curve = random_router_curve(weak, strong, shares, random.Random(0), repeats=10)
    weak_mean, strong_mean = sum(weak) / 2000, sum(strong) / 2000

    assert [p.strong_share for p in curve] == pytest.approx(shares)
    assert (curve[0].quality, curve[-1].quality) == pytest.approx((weak_mean, strong_mean))
    assert apgr(curve, weak_mean, strong_mean) == pytest.approx(0.5, abs=0.03)


def test_the_random_router_is_reproducible_from_its_seed():
    shares = [0.0, 0.5, 1.0]

    first = random_router_curve(WEAK, STRONG, shares, random.Random(3), weak_cost=WEAK_COST)
    second = random_router_curve(WEAK, STRONG, shares, random.Random(3), weak_cost=WEAK_COST)

    assert first == second
    assert first[1].strong_share == 0.5 and first[1].cost == pytest.approx(0.5)


def test_the_single_model_baselines_send_every_item_to_one_model():
    weak, strong = single_model_points(WEAK, STRONG, weak_cost=WEAK_COST, strong_cost=STRONG_COST)

    assert weak == CurvePoint(None, 0.0, 0.5, 1.0)
    assert strong == CurvePoint(None, 1.0, 1.0, 10.0)


def test_inputs_of_different_lengths_and_empty_inputs_are_refused():
    with pytest.raises(ValueError, match="one value per item"):
        route_point([True], WEAK, STRONG)
    with pytest.raises(ValueError, match="no items"):
        route_point([], [], [])
    with pytest.raises(ValueError, match="no scores"):
        sweep_thresholds([])
    assert math.isfinite(sweep_thresholds([0.5])[-1])


def test_the_curve_intervals_centre_on_the_sample_figures_and_match_scipys_percentile_bootstrap():
    import numpy as np
    from scipy import stats

    from experiments.evaluation.metrics import curve_intervals, sweep_thresholds, threshold_sweep

    rng = np.random.default_rng(7)
    n = 400
    weak = (rng.random(n) < 0.55).astype(float)
    strong = (rng.random(n) < 0.8).astype(float)
    scores = (strong - weak) + rng.normal(0, 0.8, n)  # an informative, noisy router

    intervals = curve_intervals(scores, weak, strong, replicates=2000)
    point, low, high = intervals["apgr"]
    thresholds = sweep_thresholds(list(scores))
    curve = threshold_sweep(list(scores), list(weak), list(strong), thresholds)
    assert point == pytest.approx(apgr(curve, weak.mean(), strong.mean()), abs=1e-12)
    cpt50, cpt50_low, cpt50_high = intervals["cpt50"]
    assert cpt50 == pytest.approx(cpt(curve, weak.mean(), strong.mean(), 0.5), abs=1e-12)
    assert cpt50_low < cpt50 < cpt50_high

    def statistic(index):
        index = index.astype(int)
        sample = threshold_sweep(list(scores[index]), list(weak[index]), list(strong[index]), thresholds)
        return apgr(sample, weak[index].mean(), strong[index].mean())

    reference = stats.bootstrap(
        (np.arange(n),), statistic, n_resamples=2000, method="percentile", vectorized=False, random_state=1
    ).confidence_interval
    assert low < point < high
    assert low == pytest.approx(reference.low, abs=0.02)
    assert high == pytest.approx(reference.high, abs=0.02)
