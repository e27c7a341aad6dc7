"""Always-valid confidence intervals, so an experiment can be looked at every day without inflating
false positives: the asymptotic confidence sequence of Waudby-Smith et al. (2023, arXiv:2103.06476v7),
as GrowthBook's gbstats `SequentialTwoSidedTTest` computes it.

With delta and Var(delta) as in `effects`, n = n_C + n_T units in all, the per-unit variance analogue
s^2 = Var(delta) n, and a tuning parameter N (the total sample size where the interval is tightest):

    rho       = sqrt((-2 ln alpha + ln(-2 ln alpha + 1)) / N)                              (eq. 161)
    halfwidth = sqrt(s^2) sqrt(2 (n rho^2 + 1) / (n rho)^2  ln(sqrt(n rho^2 + 1) / alpha))    (eq. 9)
    CI        = delta -/+ halfwidth

The always-valid p-value is the reciprocal of the mixture e-value (eq. 155, gbstats' parameterisation):

    e = exp(rho^2 z^2 n / (2 (n rho^2 + 1))) / sqrt(n rho^2 + 1),  z^2 = delta^2 / Var(delta)
    p = min(1, 1 / e)

p < alpha exactly when the interval excludes 0, so p is the smallest alpha whose interval excludes 0
at this look. The statistic reported is z = delta / sqrt(Var(delta)) and df is inf (normal theory).
"""

from __future__ import annotations

import math

from analytics.stats.effects import (
    EffectResult,
    check_alpha,
    check_same_kind,
    difference,
    effect_result,
)
from analytics.stats.sufficient import Statistic

DEFAULT_TUNING = 5000.0


def mixing_rho(alpha: float, tuning: float) -> float:
    """rho of eq. 161: the mixture that makes the sequence tightest near n = tuning."""
    check_alpha(alpha)
    if tuning <= 0:
        raise ValueError("the sequential tuning parameter must be positive")
    log_alpha = math.log(alpha)
    return math.sqrt((-2 * log_alpha + math.log(-2 * log_alpha + 1)) / tuning)


def sequential_halfwidth(variance: float, n: int, *, alpha: float, rho: float) -> float:
    """Half-width of the confidence sequence for an estimate with variance `variance` after n units."""
    spread = n * rho**2 + 1
    return math.sqrt(variance * n) * math.sqrt(
        2 * spread / (n * rho) ** 2 * math.log(math.sqrt(spread) / alpha)
    )


def sequential_p_value(estimate: float, variance: float, n: int, *, rho: float) -> float:
    """min(1, 1 / e-value), computed in logs so a huge e-value cannot overflow."""
    spread = n * rho**2 + 1
    log_e = rho**2 * (estimate**2 / variance) * n / (2 * spread) - 0.5 * math.log(spread)
    return 1.0 if log_e <= 0 else math.exp(-log_e)


def sequential_test(
    control: Statistic,
    treatment: Statistic,
    *,
    alpha: float = 0.05,
    relative: bool = False,
    tuning: float = DEFAULT_TUNING,
) -> EffectResult:
    """Always-valid two-sided test of treatment against control, valid at every look."""
    check_same_kind(control, treatment)
    rho = mixing_rho(alpha, tuning)
    diff = difference(control, treatment, relative=relative)
    if not diff.defined:
        return effect_result(control, treatment, diff, alpha=alpha, relative=relative)
    n = control.n + treatment.n
    return effect_result(
        control,
        treatment,
        diff,
        alpha=alpha,
        relative=relative,
        halfwidth=sequential_halfwidth(diff.variance, n, alpha=alpha, rho=rho),
        p_value=sequential_p_value(diff.estimate, diff.variance, n, rho=rho),
        df=math.inf,
    )
