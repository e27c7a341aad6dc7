"""Reference values: the textbook normal-approximation formulas (e.g. Chow, Shao & Wang, Sample Size
Calculations in Clinical Research, ch. 3-4) evaluated by hand with z(0.975) = 1.959964, z(0.8) = 0.841621."""

import pytest

from experiments.power import (
    minimum_detectable_effect,
    runtime_days,
    sample_size_mean,
    sample_size_proportion,
)


def test_half_a_standard_deviation_needs_63_per_group():
    # 2 * (1.959964 + 0.841621)^2 / 0.5^2 = 62.79
    assert sample_size_mean(sd=1.0, delta=0.5) == 63


def test_a_tenth_of_a_standard_deviation_needs_1570_per_group():
    # 2 * 7.848879 / 0.01 = 1569.78
    assert sample_size_mean(sd=1.0, delta=0.1) == 1570


def test_fifty_versus_sixty_percent_needs_388_per_group():
    # (1.959964 * sqrt(2 * .55 * .45) + 0.841621 * sqrt(.25 + .24))^2 / .01 = 387.3
    assert sample_size_proportion(p1=0.5, p2=0.6) == 388


def test_more_treatment_arms_split_alpha_and_need_more_users():
    assert sample_size_mean(sd=1.0, delta=0.5, comparisons=2) > sample_size_mean(sd=1.0, delta=0.5)


def test_the_mde_inverts_the_sample_size():
    mde = minimum_detectable_effect(sd=1.0, n_per_variant=63)
    assert mde == pytest.approx(0.49917, abs=1e-4)  # 2.801585 * sqrt(2 / 63)


def test_runtime_is_the_sample_over_the_traffic_entering_the_experiment():
    assert runtime_days(n_per_variant=1000, variants=2, daily_traffic=500, coverage=0.5) == pytest.approx(8.0)
    assert runtime_days(n_per_variant=1000, variants=2, daily_traffic=0, coverage=0.5) is None


def test_bad_planning_inputs_are_refused():
    with pytest.raises(ValueError):
        sample_size_mean(sd=1.0, delta=0)
    with pytest.raises(ValueError):
        sample_size_proportion(p1=0.3, p2=0.3, alpha=0.05)
    with pytest.raises(ValueError):
        sample_size_mean(sd=1.0, delta=0.1, power=1.0)
