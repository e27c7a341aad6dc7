"""Sample-ratio mismatch against scipy.stats.chisquare and GrowthBook's gbstats.

gbstats reference: growthbook/growthbook, packages/stats/tests/test_gbstats.py, test_srm:
check_srm([1000, 1200], [0.5, 0.5]) = 0.000020079 (9 decimals).
"""

import pytest
from scipy import stats

from analytics.stats.srm import sample_ratio_mismatch


def test_a_1000_to_1200_split_matches_gbstats_and_is_a_mismatch():
    result = sample_ratio_mismatch([1000, 1200], [0.5, 0.5])
    assert result.p_value == pytest.approx(0.000020079, abs=1e-9)
    assert result.chi2 == pytest.approx(18.1818, abs=5e-5)  # 2 * 100^2 / 1100
    assert result.mismatch


@pytest.mark.parametrize(
    ("observed", "weights"),
    [([5000, 5200], [1, 1]), ([3400, 3300, 3550], [0.33, 0.33, 0.34]), ([900, 2100], [0.3, 0.7])],
)
def test_the_chi_square_matches_scipy(observed, weights):
    total = sum(observed)
    expected = [total * w / sum(weights) for w in weights]
    reference = stats.chisquare(observed, expected)
    result = sample_ratio_mismatch(observed, weights)
    assert result.chi2 == pytest.approx(reference.statistic, abs=1e-9)
    assert result.p_value == pytest.approx(reference.pvalue, abs=1e-12)


def test_a_p_value_of_a_few_percent_is_not_a_mismatch():
    result = sample_ratio_mismatch([5000, 5200], [0.5, 0.5])
    assert result.p_value == pytest.approx(0.0477, abs=5e-5)
    assert not result.mismatch


def test_traffic_in_an_arm_planned_at_zero_is_a_mismatch():
    assert sample_ratio_mismatch([500, 480, 3], [0.5, 0.5, 0.0]).mismatch
    assert not sample_ratio_mismatch([500, 480, 0], [0.5, 0.5, 0.0]).mismatch


def test_no_traffic_is_no_mismatch():
    result = sample_ratio_mismatch([0, 0], [0.5, 0.5])
    assert (result.chi2, result.p_value, result.mismatch) == (0.0, 1.0, False)


def test_counts_and_weights_of_different_lengths_are_refused():
    with pytest.raises(ValueError):
        sample_ratio_mismatch([10, 20], [1.0])
    with pytest.raises(ValueError):
        sample_ratio_mismatch([10, 20], [0.0, 0.0])
