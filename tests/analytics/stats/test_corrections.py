"""Holm and Benjamini-Hochberg against worked examples (statsmodels multipletests gives the same).

Small example, p = [0.01, 0.04, 0.03, 0.005], m = 4, sorted 0.005, 0.01, 0.03, 0.04:
    Holm: 4(0.005) = 0.02, 3(0.01) = 0.03, 2(0.03) = 0.06, max(0.06, 1(0.04)) = 0.06
    BH:   4(0.04)/4 = 0.04, min(0.04, 4(0.03)/3 = 0.04), 4(0.01)/2 = 0.02, min(0.02, 4(0.005)/1) = 0.02
Benjamini & Hochberg (1995), J. R. Stat. Soc. B 57(1), section 4: fifteen p-values from a trial, of
which the step-up procedure at q = 0.05 rejects the four smallest.
"""

import pytest

from analytics.stats.corrections import benjamini_hochberg, holm

SMALL = [0.01, 0.04, 0.03, 0.005]
PAPER = [
    0.0001,
    0.0004,
    0.0019,
    0.0095,
    0.0201,
    0.0278,
    0.0298,
    0.0344,
    0.0459,
    0.3240,
    0.4262,
    0.5719,
    0.6528,
    0.7590,
    1.0000,
]


def test_holm_adjusts_the_worked_example():
    assert holm(SMALL) == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-12)


def test_benjamini_hochberg_adjusts_the_worked_example():
    assert benjamini_hochberg(SMALL) == pytest.approx([0.02, 0.04, 0.04, 0.02], abs=1e-12)


def test_benjamini_hochberg_rejects_the_four_smallest_of_the_papers_fifteen():
    adjusted = benjamini_hochberg(PAPER)
    # 15 p_(i) / i, then the running minimum from the largest: e.g. 15 * 0.0095 / 4 = 0.035625 and
    # 15 * 0.0298 / 7 = 0.063857, which also caps rank 6 (15 * 0.0278 / 6 = 0.0695 drops to it).
    expected = [
        0.0015,
        0.003,
        0.0095,
        0.035625,
        0.0603,
        0.063857,
        0.063857,
        0.0645,
        0.0765,
        0.486,
        0.581182,
        0.714875,
        0.753231,
        0.813214,
        1.0,
    ]
    assert adjusted == pytest.approx(expected, abs=5e-6)
    assert [p <= 0.05 for p in adjusted] == [True] * 4 + [False] * 11


def test_holm_caps_at_one_and_keeps_the_order_of_the_raw_p_values():
    adjusted = holm([0.6, 0.01, 0.5, 0.02])
    assert adjusted == pytest.approx([1.0, 0.04, 1.0, 0.06], abs=1e-12)


def test_no_p_values_adjust_to_none_and_out_of_range_ones_are_refused():
    assert holm([]) == [] and benjamini_hochberg([]) == []
    with pytest.raises(ValueError):
        holm([0.2, 1.3])
