"""Corrections for testing several metrics at once. Both return adjusted p-values in the input order,
capped at 1, to compare with the unadjusted alpha; they match statsmodels' `multipletests` methods
'holm' and 'fdr_bh'.

With m p-values sorted ascending, p_(1) <= ... <= p_(m):

    Holm (family-wise error, step-down):
        adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))

    Benjamini-Hochberg (false discovery rate, step-up):
        adj_(i) = min(1, min_{j >= i} m p_(j) / j)

The running max / min keeps the adjusted values in the same order as the raw ones.
"""

from __future__ import annotations

from collections.abc import Sequence


def _sorted_order(p_values: Sequence[float]) -> list[int]:
    if any(not 0 <= p <= 1 for p in p_values):
        raise ValueError("p-values must lie between 0 and 1")
    return sorted(range(len(p_values)), key=lambda i: p_values[i])


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(_sorted_order(p_values)):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values)."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 1.0
    for rank, index in reversed(list(enumerate(_sorted_order(p_values), start=1))):
        running = min(running, m * p_values[index] / rank)
        adjusted[index] = running
    return adjusted
