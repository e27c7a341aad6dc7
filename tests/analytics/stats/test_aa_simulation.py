"""A/A simulations: both arms draw from one skewed, cost-like distribution, so every significant
result is a false positive. The engine runs on sufficient statistics built by numpy cumulative sums,
exactly as it would on SQL roll-ups.

    fixed horizon:  2,000 experiments, 500 calls per arm, one Welch test at alpha 0.05
                    -> false-positive rate in [3%, 7%]
    daily looks:    1,000 experiments, 100 calls per arm per day for 28 days, stopping at the first
                    significant look -> at most 5% with the sequential test; the fixed-horizon test
                    peeked at the same way shows why the sequential one exists
"""

import numpy as np
import pytest

from analytics.stats.frequentist import welch_test
from analytics.stats.sequential import sequential_test
from analytics.stats.sufficient import SampleMean

SEED = 20240601
ALPHA = 0.05
COST = {"mean": np.log(0.002), "sigma": 1.0}  # lognormal cost per call around $0.002, long right tail
DAYS, DAILY_CALLS, LOOKED_AT_EXPERIMENTS = 28, 100, 1000


def _arm_rollups(rng, experiments: int, days: int, calls_per_day: int):
    """Cumulative (sum, sum of squares) per arm, experiment and day: shape (2, experiments, days)."""
    costs = rng.lognormal(COST["mean"], COST["sigma"], size=(2, experiments, days, calls_per_day))
    return costs.sum(axis=3).cumsum(axis=2), (costs**2).sum(axis=3).cumsum(axis=2)


@pytest.fixture(scope="module")
def daily_rollups():
    return _arm_rollups(np.random.default_rng(SEED + 1), LOOKED_AT_EXPERIMENTS, DAYS, DAILY_CALLS)


def _arms(sums, squares, experiment: int, day: int, n: int) -> tuple[SampleMean, SampleMean]:
    return tuple(SampleMean(n, sums[arm, experiment, day], squares[arm, experiment, day]) for arm in (0, 1))


def _fixed_horizon_rate(*, relative: bool) -> float:
    experiments, n = 2000, 500
    sums, squares = _arm_rollups(np.random.default_rng(SEED), experiments, 1, n)
    hits = sum(
        welch_test(*_arms(sums, squares, e, 0, n), alpha=ALPHA, relative=relative).significant
        for e in range(experiments)
    )
    return hits / experiments


def _peeking_rate(test, sums, squares, **options) -> float:
    """Share of experiments declared significant at some daily look."""
    hits = 0
    for e in range(sums.shape[1]):
        looks = (
            test(*_arms(sums, squares, e, d, (d + 1) * DAILY_CALLS), alpha=ALPHA, **options)
            for d in range(DAYS)
        )
        hits += any(result.significant for result in looks)
    return hits / sums.shape[1]


@pytest.mark.parametrize("relative", [False, True])
def test_the_fixed_horizon_welch_test_has_its_nominal_false_positive_rate(relative):
    rate = _fixed_horizon_rate(relative=relative)
    print(f"fixed-horizon A/A false-positive rate (relative={relative}): {rate:.2%}")
    assert 0.03 <= rate <= 0.07


@pytest.mark.parametrize("relative", [False, True])
def test_looking_every_day_for_four_weeks_keeps_the_sequential_false_positive_rate_under_alpha(
    daily_rollups, relative
):
    rate = _peeking_rate(sequential_test, *daily_rollups, relative=relative)
    print(f"sequential A/A false-positive rate, 28 daily looks (relative={relative}): {rate:.2%}")
    assert rate <= ALPHA


def test_peeking_at_the_fixed_horizon_test_every_day_inflates_false_positives(daily_rollups):
    rate = _peeking_rate(welch_test, *daily_rollups)
    print(f"fixed-horizon test peeked at daily for 28 days: {rate:.2%}")
    assert rate > 0.15
