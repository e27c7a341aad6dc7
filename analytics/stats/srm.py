"""Sample-ratio mismatch: does the observed split of units across variants match the planned weights?

Pearson's chi-square goodness of fit over the k arms with a positive weight, N units in all:

    E_i  = N w_i / sum(w)
    chi2 = sum_i (O_i - E_i)^2 / E_i,     p = P(chi2_{k-1} > chi2)

A mismatch is flagged at p < 0.001 (GrowthBook's default), strict enough that a daily check over a
long experiment rarely cries wolf. An arm planned at weight 0 that still received units is a certain
mismatch (chi2 inf, p 0). With no units, or fewer than two weighted arms, there is nothing to test:
chi2 0, p 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy.stats import chi2 as chi_square

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    chi2: float
    p_value: float
    mismatch: bool


def _check(observed: Sequence[int], weights: Sequence[float]) -> None:
    if len(observed) != len(weights):
        raise ValueError("observed counts and expected weights must have the same length")
    if any(o < 0 for o in observed) or any(w < 0 for w in weights) or not sum(weights) > 0:
        raise ValueError("counts and weights must not be negative, and some weight must be positive")


def _chi2(observed: Sequence[int], weights: Sequence[float]) -> float:
    total, total_weight = sum(observed), sum(weights)
    expected = [total * w / total_weight for w in weights]
    return math.fsum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


def sample_ratio_mismatch(
    observed: Sequence[int], expected_weights: Sequence[float], *, threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Chi-square test of the observed counts against the expected weights (formula above)."""
    _check(observed, expected_weights)
    if any(o > 0 and w == 0 for o, w in zip(observed, expected_weights, strict=True)):
        return SrmResult(chi2=math.inf, p_value=0.0, mismatch=True)
    arms = [(o, w) for o, w in zip(observed, expected_weights, strict=True) if w > 0]
    if len(arms) < 2 or sum(o for o, _ in arms) == 0:
        return SrmResult(chi2=0.0, p_value=1.0, mismatch=False)
    statistic = _chi2([o for o, _ in arms], [w for _, w in arms])
    p_value = float(chi_square.sf(statistic, len(arms) - 1))
    return SrmResult(chi2=statistic, p_value=p_value, mismatch=p_value < threshold)
