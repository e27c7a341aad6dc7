"""Chance to win against GrowthBook's gbstats with its default, non-informative prior.

Reference: growthbook/growthbook, packages/stats/tests/bayesian/test_tests.py, GaussianEffectABTest
cases test_bayesian_binomial_ab_test (chance_to_win 0.60918) and test_bayesian_gaussian_ab_test
(0.91923); both relative effects, 5 decimals.
"""

import pytest
from scipy.stats import norm

from analytics.stats.bayes import chance_to_win
from analytics.stats.sufficient import Proportion, SampleMean

GBSTATS = 1e-5


def test_a_two_point_rate_lift_has_gbstats_chance_to_win():
    chance = chance_to_win(Proportion(n=100, successes=49), Proportion(n=100, successes=51), relative=True)
    assert chance == pytest.approx(0.60918, abs=GBSTATS)


def test_a_five_percent_mean_lift_has_gbstats_chance_to_win():
    control = SampleMean(n=10, sum=100, sum_squares=1002.25)
    treatment = SampleMean(n=10, sum=105, sum_squares=1111.5)
    assert chance_to_win(control, treatment, relative=True) == pytest.approx(0.91923, abs=GBSTATS)


def test_the_absolute_chance_is_the_normal_tail_of_the_difference_by_hand():
    control = SampleMean(n=10, sum=100, sum_squares=1002.25)  # mean 10, variance 0.25
    treatment = SampleMean(n=10, sum=105, sum_squares=1111.5)  # mean 10.5, variance 1
    expected = norm.cdf(0.5 / (0.025 + 0.1) ** 0.5)  # Phi(1.414214) = 0.921350
    assert chance_to_win(control, treatment) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.921350, abs=1e-6)


def test_when_lower_is_better_a_rise_loses():
    control, treatment = Proportion(n=100, successes=49), Proportion(n=100, successes=51)
    higher = chance_to_win(control, treatment)
    assert chance_to_win(control, treatment, lower_is_better=True) == pytest.approx(1 - higher)


def test_without_data_the_chance_is_even():
    assert chance_to_win(SampleMean(), SampleMean()) == 0.5
    assert chance_to_win(Proportion(n=0, successes=0), Proportion(n=0, successes=0), relative=True) == 0.5
