"""Sufficient statistics against the same quantities computed by numpy on the raw values."""

import math

import numpy as np
import pytest

from analytics.stats.sufficient import Proportion, RatioStat, SampleMean

RNG_SEED = 11


@pytest.fixture
def costs():
    return np.random.default_rng(RNG_SEED).lognormal(np.log(0.002), 1.0, size=300)


def test_a_sample_mean_has_numpys_mean_and_sample_variance(costs):
    stat = SampleMean.from_values(costs)
    assert stat.n == 300
    assert stat.mean == pytest.approx(costs.mean(), rel=1e-12)
    assert stat.variance == pytest.approx(costs.var(ddof=1), rel=1e-9)
    assert stat.std == pytest.approx(costs.std(ddof=1), rel=1e-9)


def test_merged_roll_ups_equal_the_statistic_of_the_concatenated_data(costs):
    days = [SampleMean.from_values(chunk) for chunk in np.array_split(costs, 7)]
    merged = sum(days)
    whole = SampleMean.from_values(costs)
    assert merged.n == whole.n
    assert merged.mean == pytest.approx(whole.mean, rel=1e-12)
    assert merged.variance == pytest.approx(whole.variance, rel=1e-9)
    assert days[0] + days[1] == days[0].merge(days[1])


def test_merged_proportions_count_every_trial_and_success():
    merged = Proportion.from_values([1, 0, 0, 1]) + Proportion.from_values([True, False])
    assert merged == Proportion(n=6, successes=3)
    assert merged.rate == 0.5
    assert merged.variance == 0.25


def test_a_ratio_stat_merges_to_the_statistic_of_the_concatenated_pairs():
    rng = np.random.default_rng(RNG_SEED)
    tokens = rng.integers(50, 2000, size=400).astype(float)
    cost = tokens * 2e-6 * rng.lognormal(0, 0.3, size=400)
    pairs = list(zip(cost, tokens, strict=True))
    merged = RatioStat.from_values(pairs[:150]) + RatioStat.from_values(pairs[150:])
    whole = RatioStat.from_values(pairs)
    assert merged.n == whole.n
    assert merged.mean == pytest.approx(whole.mean, rel=1e-12)
    assert merged.variance == pytest.approx(whole.variance, rel=1e-9)


def test_the_ratio_variance_is_the_delta_method_on_numpys_moments():
    rng = np.random.default_rng(RNG_SEED)
    tokens = rng.integers(50, 2000, size=400).astype(float)
    cost = tokens * 2e-6 * rng.lognormal(0, 0.3, size=400)
    stat = RatioStat.from_values(zip(cost, tokens, strict=True))
    mean_m, mean_d = cost.mean(), tokens.mean()
    (var_m, cov), (_, var_d) = np.cov(cost, tokens, ddof=1)
    delta = var_m / mean_d**2 + mean_m**2 * var_d / mean_d**4 - 2 * mean_m * cov / mean_d**3
    assert stat.mean == pytest.approx(cost.sum() / tokens.sum(), rel=1e-12)
    assert stat.covariance == pytest.approx(cov, rel=1e-9)
    assert stat.variance == pytest.approx(delta, rel=1e-6)


def test_undefined_moments_are_nan_not_errors():
    assert math.isnan(SampleMean().mean)
    assert math.isnan(SampleMean.from_values([3.0]).variance)
    assert math.isnan(Proportion().rate)
    assert math.isnan(RatioStat.from_values([(1.0, 0.0), (2.0, 0.0)]).mean)
    assert SampleMean.from_values([2.5, 2.5, 2.5]).variance == 0.0


def test_impossible_statistics_and_mixed_merges_are_refused():
    with pytest.raises(ValueError):
        Proportion(n=3, successes=4)
    with pytest.raises(ValueError):
        SampleMean(n=-1)
    with pytest.raises(TypeError):
        SampleMean(n=1, sum=1.0, sum_squares=1.0) + Proportion(n=1, successes=1)
