"""Power, sample size and minimum detectable effect for planning an experiment.

Two-sided tests at level alpha with power 1 - beta, equal allocation, normal approximation:

    mean metric:   n per variant = 2 (z_{1-alpha/2} + z_{1-beta})^2 sigma^2 / delta^2
    proportion:    n per variant = (z_{1-alpha/2} sqrt(2 pbar (1 - pbar)) + z_{1-beta} sqrt(p1 q1 + p2 q2))^2
                                   / (p2 - p1)^2,   pbar = (p1 + p2) / 2
                   (Fleiss, without continuity correction)
    MDE (mean):    delta = (z_{1-alpha/2} + z_{1-beta}) sigma sqrt(2 / n)

With k treatment arms compared to one control, alpha is split Bonferroni-style (alpha / k) so the family
of comparisons keeps its level. delta is absolute; callers pass a relative effect times the baseline.
"""

from __future__ import annotations

import math

from scipy.stats import norm


def _z(alpha: float, power: float, comparisons: int = 1) -> tuple[float, float]:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must lie strictly between 0 and 1")
    return float(norm.ppf(1 - alpha / (2 * comparisons))), float(norm.ppf(power))


def sample_size_mean(
    *, sd: float, delta: float, alpha: float = 0.05, power: float = 0.8, comparisons: int = 1
) -> int:
    """Users (or calls) per variant to detect an absolute difference `delta` in a mean with s.d. `sd`."""
    if delta == 0:
        raise ValueError("delta must be non-zero")
    z_alpha, z_beta = _z(alpha, power, comparisons)
    return math.ceil(2 * (z_alpha + z_beta) ** 2 * sd**2 / delta**2)


def sample_size_proportion(
    *, p1: float, p2: float, alpha: float = 0.05, power: float = 0.8, comparisons: int = 1
) -> int:
    """Per variant, to tell a rate `p2` from a baseline `p1`."""
    if p1 == p2:
        raise ValueError("p1 and p2 must differ")
    z_alpha, z_beta = _z(alpha, power, comparisons)
    pbar = (p1 + p2) / 2
    spread = z_alpha * math.sqrt(2 * pbar * (1 - pbar)) + z_beta * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(spread**2 / (p2 - p1) ** 2)


def minimum_detectable_effect(
    *, sd: float, n_per_variant: int, alpha: float = 0.05, power: float = 0.8, comparisons: int = 1
) -> float:
    """The smallest absolute difference in a mean that `n_per_variant` per arm detects with this power."""
    z_alpha, z_beta = _z(alpha, power, comparisons)
    return (z_alpha + z_beta) * sd * math.sqrt(2 / n_per_variant)


def runtime_days(*, n_per_variant: int, variants: int, daily_traffic: float, coverage: float) -> float | None:
    """Days until every variant has its sample, at the route's daily traffic and the experiment's coverage."""
    entering = daily_traffic * coverage
    return None if entering <= 0 else n_per_variant * variants / entering
