"""The Bayesian engine against GrowthBook's gbstats `EffectBayesianABTest` and closed forms by hand.

gbstats cases (its ProportionStatistic(sum, n) is our Proportion(n, successes), its
SampleMeanStatistic(n, sum, sum_squares) our SampleMean; its default difference is relative):

- growthbook/growthbook, packages/stats/tests/bayesian/test_tests.py, the EffectBayesianABTest version:
  TestBinom.test_bayesian_binomial_ab_test, TestNorm.test_bayesian_gaussian_ab_test and
  TestNorm.test_bayesian_gaussian_ab_test_informative (GaussianPrior(mean=0.1, variance=0.1, proper=True)),
  both test_missing_data; 5 decimals, compared to within 1e-5.
- growthbook/growthbook, packages/stats/tests/test_gbstats.py (commit 01d75ae), TestAnalyzeMetricDfBayesian:
  test_get_metric_dfs_new and test_get_metric_dfs_inverse (dimension "one"); 9 decimals.
- growthbook/growthbook, packages/stats/tests/bayesian/test_tests.py (commit 4d49988, before the effect
  test), TestNorm.test_bayesian_gaussian_ab_test: risk [0.51256, 0.01256] for the absolute difference.
  That test's chance and interval came from a log approximation since dropped, so the absolute chance
  and interval are checked against the closed form by hand instead.

gbstats' Bayesian ratio case (test_get_metric_dfs_bayesian_ratio) is not reproduced: its denominator sums
(n 100, sum 510, sum of squares 810) give a negative sample variance, which gbstats keeps and our
RatioStat clamps to 0, so the two engines answer differently for data no real sample can produce.
"""

import math

import pytest
from scipy import integrate
from scipy.stats import norm

from analytics.stats.bayes import bayesian_test, expected_losses
from analytics.stats.sufficient import Proportion, SampleMean

GBSTATS = 1e-5  # test_tests.py rounds to 5 decimals
GBSTATS_9 = 1e-8  # test_gbstats.py rounds to 9 decimals
MEAN_C = SampleMean(n=10, sum=100, sum_squares=1002.25)  # mean 10, variance 0.25
MEAN_T = SampleMean(n=10, sum=105, sum_squares=1111.5)  # mean 10.5, variance 1


def _assert_result(result, *, estimate, ci, std_error, chance, risk, tolerance=GBSTATS):
    assert result.defined
    assert result.estimate == pytest.approx(estimate, abs=tolerance)
    assert (result.ci_low, result.ci_high) == pytest.approx(ci, abs=tolerance)
    assert result.std_error == pytest.approx(std_error, abs=tolerance)
    assert result.chance_to_win == pytest.approx(chance, abs=tolerance)
    assert result.risk == pytest.approx(risk, abs=tolerance)


def test_a_relative_rate_lift_matches_gbstats_binomial_case():
    result = bayesian_test(Proportion(n=100, successes=49), Proportion(n=100, successes=51), relative=True)
    _assert_result(
        result,
        estimate=0.04082,
        ci=(-0.24779, 0.32943),
        std_error=0.14725,
        chance=0.60918,
        risk=(0.0814, 0.04058),
    )
    assert result.relative


def test_a_relative_mean_lift_matches_gbstats_gaussian_case():
    result = bayesian_test(MEAN_C, MEAN_T, relative=True)
    _assert_result(
        result, estimate=0.05, ci=(-0.02, 0.12), std_error=0.03572, chance=0.91923, risk=(0.05131, 0.00131)
    )


def test_a_proper_prior_matches_gbstats_informative_case():
    result = bayesian_test(MEAN_C, MEAN_T, relative=True, prior_mean=0.1, prior_variance=0.1)
    _assert_result(
        result,
        estimate=0.05063,
        ci=(-0.01893, 0.12019),
        std_error=0.03549,
        chance=0.92315,
        risk=(0.05186, 0.00123),
    )


def test_a_relative_mean_drop_matches_gbstats_metric_analysis():
    control = SampleMean(n=100, sum=270, sum_squares=848.79)
    treatment = SampleMean(n=120, sum=300, sum_squares=869)
    result = bayesian_test(control, treatment, relative=True)
    assert result.estimate == pytest.approx(-0.074074074, abs=GBSTATS_9)
    assert result.chance_to_win == pytest.approx(0.071834168, abs=GBSTATS_9)
    assert result.risk[1] == pytest.approx(0.075691131, abs=GBSTATS_9)


def test_lower_is_better_matches_gbstats_inverse_metric_analysis():
    control = SampleMean(n=100, sum=270, sum_squares=848.79)
    treatment = SampleMean(n=120, sum=300, sum_squares=869)
    result = bayesian_test(control, treatment, relative=True, lower_is_better=True)
    assert result.estimate == pytest.approx(-0.074074074, abs=GBSTATS_9)
    assert result.chance_to_win == pytest.approx(1 - 0.071834168, abs=GBSTATS_9)
    assert result.risk[1] == pytest.approx(0.001617057, abs=GBSTATS_9)


def test_an_absolute_mean_difference_has_the_gbstats_risk_and_the_closed_form_by_hand():
    result = bayesian_test(MEAN_C, MEAN_T)
    # posterior N(0.5, 0.25/10 + 1/10 = 0.125): sd 0.353553, z = 1.414214, Phi(z) = 0.921350,
    # interval 0.5 -/+ 1.959964 * 0.353553 = 0.5 -/+ 0.692952
    _assert_result(
        result,
        estimate=0.5,
        ci=(-0.192952, 1.192952),
        std_error=0.353553,
        chance=0.921350,
        risk=(0.51256, 0.01256),
    )
    assert not result.relative


def test_lower_is_better_flips_the_chance_and_swaps_the_risks():
    higher = bayesian_test(MEAN_C, MEAN_T, relative=True)
    lower = bayesian_test(MEAN_C, MEAN_T, relative=True, lower_is_better=True)
    assert lower.chance_to_win == pytest.approx(1 - higher.chance_to_win)
    assert lower.risk == (higher.risk[1], higher.risk[0])
    assert (lower.estimate, lower.ci_low, lower.ci_high) == (higher.estimate, higher.ci_low, higher.ci_high)


@pytest.mark.parametrize(("mean", "sd"), [(0.5, 0.353553), (-0.2, 0.05), (0.0, 1.0), (3.0, 0.4)])
def test_the_risks_are_the_expected_losses_by_numerical_integration(mean, sd):
    def density(x):
        return norm.pdf(x, mean, sd)

    gain, _ = integrate.quad(lambda x: x * density(x), 0, math.inf)
    loss, _ = integrate.quad(lambda x: -x * density(x), -math.inf, 0)
    assert expected_losses(mean, sd) == pytest.approx((gain, loss), abs=1e-9)


def test_without_data_gbstats_reports_no_evidence():
    for control, treatment in [
        (Proportion(n=0, successes=0), Proportion(n=0, successes=0)),
        (SampleMean(), SampleMean()),
    ]:
        result = bayesian_test(control, treatment, relative=True)
        assert (result.chance_to_win, result.risk, result.defined) == (0.5, (0.0, 0.0), False)


@pytest.mark.parametrize(
    ("control", "treatment", "relative"),
    [
        (SampleMean(n=5, sum=10, sum_squares=20), MEAN_T, False),  # no spread in the control arm
        (Proportion(n=50, successes=0), Proportion(n=50, successes=3), True),  # control rate 0
        (SampleMean(n=1, sum=3, sum_squares=9), MEAN_T, False),  # one unit
    ],
)
def test_an_undefined_effect_says_nothing_even_with_a_prior(control, treatment, relative):
    for prior_variance in (None, 0.1):
        result = bayesian_test(control, treatment, relative=relative, prior_variance=prior_variance)
        assert not result.defined
        assert (result.chance_to_win, result.risk) == (0.5, (0.0, 0.0))
        assert math.isnan(result.ci_low) and math.isnan(result.ci_high) and math.isnan(result.std_error)


@pytest.mark.parametrize("prior_variance", [0.0, -1.0, math.inf, math.nan])
def test_a_prior_variance_must_be_positive_and_finite(prior_variance):
    with pytest.raises(ValueError, match="prior_variance"):
        bayesian_test(MEAN_C, MEAN_T, prior_variance=prior_variance)


def test_alpha_must_lie_between_0_and_1():
    with pytest.raises(ValueError, match="alpha"):
        bayesian_test(MEAN_C, MEAN_T, alpha=1.0)
