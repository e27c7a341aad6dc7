"""The always-valid test against GrowthBook's gbstats.

Reference: growthbook/growthbook, packages/stats/tests/frequentist/test_tests.py, class
TestSequentialTTest (test_sequential_test_runs, test_sequential_test_runs_prop,
test_sequential_test_tuning_as_expected); relative effects; expected values rounded to 5 decimals.
"""

import math

import pytest

from analytics.stats.frequentist import welch_test
from analytics.stats.sequential import mixing_rho, sequential_halfwidth, sequential_test
from analytics.stats.sufficient import Proportion, SampleMean

GBSTATS = 1e-5
CONTROL = SampleMean(n=3000, sum=1396.87, sum_squares=52377.9767)
TREATMENT = SampleMean(n=3461, sum=2422.7, sum_squares=134698.29)


def test_the_confidence_sequence_matches_gbstats_with_tuning_1000():
    result = sequential_test(CONTROL, TREATMENT, relative=True, tuning=1000)
    assert result.estimate == pytest.approx(0.50336, abs=GBSTATS)
    assert result.std_error == pytest.approx(0.33341, abs=GBSTATS)
    assert (result.ci_low, result.ci_high) == pytest.approx((-0.55844, 1.56516), abs=GBSTATS)
    assert result.p_value == 1.0


def test_proportions_match_gbstats_with_the_default_tuning():
    result = sequential_test(
        Proportion(n=3000, successes=1396), Proportion(n=3461, successes=2422), relative=True
    )
    assert result.estimate == pytest.approx(0.50386, abs=GBSTATS)
    assert result.std_error == pytest.approx(0.03386, abs=GBSTATS)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.40098, 0.60675), abs=GBSTATS)
    assert result.p_value == pytest.approx(0.0, abs=GBSTATS)
    assert result.significant


def test_the_interval_is_tightest_when_tuned_near_the_sample_size():
    def width(tuning):
        result = sequential_test(CONTROL, TREATMENT, relative=True, tuning=tuning)
        return result.ci_high - result.ci_low

    assert width(6461) < width(10_000) < width(10)


def test_rho_and_halfwidth_follow_the_paper_by_hand():
    # alpha 0.05: -2 ln alpha = 5.991465, ln(6.991465) = 1.944690, rho = sqrt(7.936155 / 5000)
    rho = mixing_rho(0.05, 5000)
    assert rho == pytest.approx(0.0398401, abs=1e-7)
    # n = 5000, s^2 = 1: n rho^2 + 1 = 8.936155, (n rho)^2 = 39680.77,
    # halfwidth = sqrt(2 * 8.936155 / 39680.77 * ln(sqrt(8.936155) / 0.05)) = sqrt(4.50402e-4 * 4.090785)
    assert sequential_halfwidth(1.0 / 5000, 5000, alpha=0.05, rho=rho) == pytest.approx(0.0429243, abs=1e-7)


def test_the_p_value_crosses_alpha_exactly_where_the_interval_leaves_zero():
    base = SampleMean.from_values([1.0, 2.0, 3.0, 4.0] * 500)
    for shift in [0.0, 0.05, 0.1, 0.12, 0.14, 0.16, 0.2, 0.3]:
        moved = SampleMean(
            n=base.n,
            sum=base.sum + shift * base.n,
            sum_squares=base.sum_squares + 2 * shift * base.sum + shift**2 * base.n,
        )
        result = sequential_test(base, moved)
        assert result.significant == (result.ci_low > 0 or result.ci_high < 0)


def test_the_sequence_is_wider_than_the_fixed_horizon_interval():
    sequential = sequential_test(CONTROL, TREATMENT, relative=True)
    fixed = welch_test(CONTROL, TREATMENT, relative=True)
    assert sequential.ci_high - sequential.ci_low > fixed.ci_high - fixed.ci_low
    assert math.isinf(sequential.df)


def test_empty_and_constant_arms_give_an_uninformative_sequential_result():
    for control, treatment in [
        (SampleMean(), SampleMean()),
        (Proportion(n=5, successes=5), Proportion(n=5, successes=5)),
    ]:
        result = sequential_test(control, treatment)
        assert result.p_value == 1.0
        assert math.isnan(result.ci_low)


def test_a_non_positive_tuning_parameter_is_refused():
    with pytest.raises(ValueError):
        sequential_test(CONTROL, TREATMENT, tuning=0)
