"""The cluster-robust quantile test on simulated latencies bucketed as the roll-ups bucket them: its A/A
false-positive rate, its power against a heavier p99 tail with an unchanged mean, and its interval
against the exact order-statistic interval on independent calls.

Each user makes 1 + Poisson(4) calls; a call's latency is exp(6 + u + e) ms with a per-user effect
u ~ N(0, 0.3) shared by the user's calls (so calls cluster) and e ~ N(0, sigma_e).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from analytics.rollups import BUCKET_GROWTH, MAX_BUCKET, bucket_bounds
from analytics.stats import RatioStat
from analytics.stats.quantile import histogram_quantile, quantile_estimate, quantile_test

USER_SD, CALL_SD, MU = 0.3, 0.4, 6.0
CALLS_PER_ARM = 20_000


def bucketed(latency: np.ndarray) -> np.ndarray:
    """The roll-up's bucket of each latency (log-spaced, 5% wide)."""
    return np.clip(np.floor(np.log(np.maximum(latency, 1)) / math.log(BUCKET_GROWTH)), 0, MAX_BUCKET).astype(
        int
    )


def arm(rng: np.random.Generator, calls: int, mu: float = MU, call_sd: float = CALL_SD):
    """(per-call bucket, per-call owner, users) for about `calls` calls."""
    users = calls // 5
    per_user = 1 + rng.poisson(4, users)
    owner = np.repeat(np.arange(users), per_user)
    effect = rng.normal(0, USER_SD, users)[owner]
    latency = np.exp(mu + effect + rng.normal(0, call_sd, len(owner)))
    return bucketed(latency), owner, users


def estimate(buckets: np.ndarray, owner: np.ndarray, users: int, q: float):
    """The arm's quantile estimate, with the per-user counts below it as the report's SQL sums them."""
    values, counts = np.unique(buckets, return_counts=True)
    histogram = dict(zip(values.tolist(), counts.tolist(), strict=True))
    point = histogram_quantile(histogram, q, bucket_bounds)
    weight = (buckets < point.bucket) + point.fraction * (buckets == point.bucket)
    below = np.bincount(owner, weights=weight, minlength=users)
    n = np.bincount(owner, minlength=users).astype(float)
    stat = RatioStat(users, below.sum(), (below**2).sum(), n.sum(), (n**2).sum(), (below * n).sum())
    return quantile_estimate(histogram, q, stat, bucket_bounds)


def heavier_tail(ratio: float = 1.18) -> tuple[float, float]:
    """(mu, call s.d.) whose marginal latency has the same mean and a p99 `ratio` times higher."""
    total = math.sqrt(USER_SD**2 + CALL_SD**2)
    z99 = norm.ppf(0.99)

    def p99_gap(new_total: float) -> float:
        shift = (total**2 - new_total**2) / 2  # keeps exp(mu + total^2 / 2), the mean
        return shift + z99 * (new_total - total) - math.log(ratio)

    new_total = brentq(p99_gap, total, 3 * total)
    return MU + (total**2 - new_total**2) / 2, math.sqrt(new_total**2 - USER_SD**2)


def test_the_p99_test_holds_its_false_positive_rate_on_aa_experiments():
    rng = np.random.default_rng(99)
    runs, flagged = 1000, 0
    for _ in range(runs):
        control = estimate(*arm(rng, CALLS_PER_ARM), q=0.99)
        treatment = estimate(*arm(rng, CALLS_PER_ARM), q=0.99)
        flagged += quantile_test(control, treatment).p_value < 0.05
    rate = flagged / runs
    print(f"p99 A/A false-positive rate: {rate:.3f}")
    assert 0.03 <= rate <= 0.07


def test_the_p99_test_detects_a_heavier_tail_with_the_same_mean():
    mu, call_sd = heavier_tail(1.18)
    rng = np.random.default_rng(118)
    runs, found, means = 500, 0, []
    for _ in range(runs):
        control_arm = arm(rng, CALLS_PER_ARM)
        treatment_arm = arm(rng, CALLS_PER_ARM, mu=mu, call_sd=call_sd)
        result = quantile_test(
            estimate(*control_arm, q=0.99), estimate(*treatment_arm, q=0.99), relative=True
        )
        found += result.p_value < 0.05 and result.estimate > 0
        means.append(result.estimate)
    power = found / runs
    print(f"+18% p99, same mean: detected {power:.3f}, mean relative estimate {np.mean(means):+.3f}")
    assert power >= 0.90
    assert np.mean(means) == pytest.approx(0.18, abs=0.03)


def test_on_independent_calls_the_interval_matches_the_order_statistic_interval():
    """With one call per user the proportion's variance is q (1 - q) / n: the interval is the classic
    distribution-free one, Q(q -/+ z sqrt(q (1 - q) / n))."""
    rng = np.random.default_rng(5)
    n, q = 50_000, 0.95
    buckets = bucketed(np.exp(rng.normal(MU, 0.5, n)))
    owner = np.arange(n)
    result = estimate(buckets, owner, n, q)
    values, counts = np.unique(buckets, return_counts=True)
    histogram = dict(zip(values.tolist(), counts.tolist(), strict=True))
    z = norm.ppf(0.975)
    spread = z * math.sqrt(q * (1 - q) / n)
    low = histogram_quantile(histogram, q - spread, bucket_bounds).value
    high = histogram_quantile(histogram, q + spread, bucket_bounds).value
    # the calls inside the quantile's own bucket count by its interpolated fraction, not 0 or 1, which
    # trims the proportion's variance a little
    assert result.std_error == pytest.approx((high - low) / (2 * z), rel=0.02)
    true_p95 = math.exp(MU + 0.5 * norm.ppf(q))
    assert abs(result.value - true_p95) < 3 * result.std_error + 0.05 * true_p95 / 2  # within its bucket


def test_an_arm_without_data_gives_an_uninformative_result():
    empty = quantile_estimate({}, 0.99, RatioStat(), bucket_bounds)
    some = quantile_estimate({100: 5}, 0.99, RatioStat(1, 5, 25, 5, 25, 25), bucket_bounds)
    result = quantile_test(empty, some)
    assert result.p_value == 1.0 and math.isnan(result.ci_low)
