"""Welch's t test against scipy (same data, raw arrays versus sufficient statistics) and against the
expected values of GrowthBook's own test suite for gbstats.

gbstats cases: growthbook/growthbook, packages/stats/tests/frequentist/test_tests.py, class
TestTwoSidedTTest (test_two_sided_ttest, _absolute, _binom, _missing_variance); gbstats rounds its
expected values to 5 decimals, so they are compared to within 1e-5.
"""

import math

import numpy as np
import pytest
from scipy import stats

from analytics.stats.frequentist import welch_test
from analytics.stats.sufficient import Proportion, RatioStat, SampleMean

GBSTATS = 1e-5  # gbstats' expected values carry 5 decimals
CONTROL = SampleMean(n=3407, sum=1396.87, sum_squares=52377.9767)
TREATMENT = SampleMean(n=3461, sum=2422.7, sum_squares=134698.29)

# Wikipedia, "Welch's t-test", example 1 (t = -2.46, df = 24.99, p = 0.021 for A1 versus A2).
A1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
A2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]


def _datasets():
    rng = np.random.default_rng(3)
    yield "wikipedia", np.array(A1), np.array(A2)
    yield "small unequal", rng.normal(10, 1, 7), rng.normal(11, 4, 11)
    yield "lognormal costs", rng.lognormal(-6, 1, 500), rng.lognormal(-6.1, 1.2, 480)


@pytest.mark.parametrize(("name", "control", "treatment"), list(_datasets()))
def test_welch_on_sufficient_statistics_matches_scipy_on_the_raw_values(name, control, treatment):
    ours = welch_test(SampleMean.from_values(control), SampleMean.from_values(treatment))
    theirs = stats.ttest_ind(treatment, control, equal_var=False)
    low, high = theirs.confidence_interval(0.95)
    assert ours.estimate == pytest.approx(treatment.mean() - control.mean(), abs=1e-10)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-8)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=1e-8)
    assert ours.df == pytest.approx(theirs.df, abs=1e-6)
    assert (ours.ci_low, ours.ci_high) == pytest.approx((low, high), abs=1e-8)


def test_the_wikipedia_welch_example_to_four_places():
    result = welch_test(SampleMean.from_values(A1), SampleMean.from_values(A2))
    assert result.statistic == pytest.approx(2.4554, abs=5e-5)
    assert result.df == pytest.approx(24.9885, abs=5e-5)
    assert result.p_value == pytest.approx(0.0214, abs=5e-5)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.3492, 3.9841), abs=5e-5)


def test_the_relative_delta_method_test_matches_gbstats():
    result = welch_test(CONTROL, TREATMENT, relative=True)
    assert result.estimate == pytest.approx(0.70732, abs=GBSTATS)
    assert result.std_error == pytest.approx(0.37879, abs=GBSTATS)
    assert (result.ci_low, result.ci_high) == pytest.approx((-0.03526, 1.44989), abs=GBSTATS)
    assert result.p_value == pytest.approx(0.06191, abs=GBSTATS)
    assert result.relative and not result.significant


def test_the_absolute_test_matches_gbstats():
    result = welch_test(CONTROL, TREATMENT)
    assert result.estimate == pytest.approx(0.29, abs=GBSTATS)
    assert result.std_error == pytest.approx(0.12478, abs=GBSTATS)
    assert (result.ci_low, result.ci_high) == pytest.approx((0.04538, 0.53462), abs=GBSTATS)
    assert result.p_value == pytest.approx(0.02016, abs=GBSTATS)
    assert result.significant


def test_proportions_use_the_bernoulli_variance_like_gbstats():
    result = welch_test(Proportion(n=28, successes=14), Proportion(n=30, successes=16), relative=True)
    assert result.estimate == pytest.approx(0.06667, abs=GBSTATS)
    assert result.std_error == pytest.approx(0.2717, abs=GBSTATS)
    assert (result.ci_low, result.ci_high) == pytest.approx((-0.47767, 0.61101), abs=GBSTATS)
    assert result.p_value == pytest.approx(0.80707, abs=GBSTATS)


def test_inconsistent_sums_with_no_variance_give_gbstats_uninformative_result():
    # gbstats' test_two_sided_ttest_missing_variance: n = 2 with these sums has no positive variance.
    result = welch_test(SampleMean(n=2, sum=1396.87, sum_squares=52377.9767), TREATMENT, relative=True)
    assert result.p_value == 1.0
    assert math.isnan(result.ci_low) and math.isnan(result.ci_high)


def test_a_ratio_metric_is_tested_on_its_delta_method_variance():
    control = RatioStat(
        n=1000,
        numerator_sum=2.0,
        numerator_sum_squares=0.0081,
        denominator_sum=500_000,
        denominator_sum_squares=4.0e8,
        cross_sum=1500.0,
    )
    treatment = RatioStat(
        n=1000,
        numerator_sum=1.2,
        numerator_sum_squares=0.0029,
        denominator_sum=480_000,
        denominator_sum_squares=3.7e8,
        cross_sum=870.0,
    )
    result = welch_test(control, treatment)
    se = math.sqrt(control.variance / 1000 + treatment.variance / 1000)
    assert result.estimate == pytest.approx(1.2 / 480_000 - 2.0 / 500_000, rel=1e-12)
    assert result.std_error == pytest.approx(se, rel=1e-12)
    assert result.p_value < 0.05


@pytest.mark.parametrize(
    ("control", "treatment"),
    [
        (SampleMean(), SampleMean()),
        (SampleMean.from_values([1.0]), SampleMean.from_values([2.0, 3.0])),
        (SampleMean.from_values([4.0, 4.0, 4.0]), SampleMean.from_values([4.0, 4.0])),
        (SampleMean.from_values([0.0, 0.0]), SampleMean.from_values([1.0, 2.0])),
        (Proportion(n=0, successes=0), Proportion(n=10, successes=3)),
        (Proportion(n=500, successes=0), Proportion(n=500, successes=0)),
    ],
)
@pytest.mark.parametrize("relative", [False, True])
def test_empty_tiny_and_constant_arms_are_never_significant_and_never_raise(control, treatment, relative):
    result = welch_test(control, treatment, relative=relative)
    assert result.p_value == 1.0
    assert not result.significant
    assert math.isnan(result.ci_low) and math.isnan(result.ci_high)


def test_a_constant_difference_keeps_its_estimate_but_claims_nothing():
    result = welch_test(SampleMean.from_values([4.0, 4.0]), SampleMean.from_values([5.0, 5.0]))
    assert result.estimate == 1.0
    assert result.p_value == 1.0


def test_mixing_statistic_kinds_or_a_bad_alpha_is_a_programming_error():
    with pytest.raises(TypeError):
        welch_test(SampleMean(), Proportion())
    with pytest.raises(ValueError):
        welch_test(CONTROL, TREATMENT, alpha=1.5)
