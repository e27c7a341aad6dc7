"""Welch's t test on the absolute or the relative difference of two means, from sufficient statistics.

With delta, Var(delta) and the Welch-Satterthwaite df as in `effects`:

    t        = delta / sqrt(Var(delta))
    p_value  = 2 P(T_df > |t|)                          (two-sided, Student t with df degrees of freedom)
    CI       = delta -/+ t_{df, 1 - alpha/2} sqrt(Var(delta))

The relative difference (mean_T / mean_C - 1) uses the delta-method variance and the same df, which is
what GrowthBook's gbstats `TwoSidedTTest` does. Proportions go through the same machinery with the
per-unit variance p (1 - p), as in gbstats; ratio metrics with their delta-method per-unit variance.

Undefined effects (an arm with n < 2, zero total variance, a relative effect over a zero control mean)
return p_value 1.0 and a nan interval instead of raising.
"""

from __future__ import annotations

from scipy.stats import t as student_t

from analytics.stats.effects import (
    EffectResult,
    check_alpha,
    check_same_kind,
    difference,
    effect_result,
    welch_df,
)
from analytics.stats.sufficient import Statistic


def welch_test(
    control: Statistic, treatment: Statistic, *, alpha: float = 0.05, relative: bool = False
) -> EffectResult:
    """Two-sided Welch test of treatment against control at level `alpha`."""
    check_alpha(alpha)
    check_same_kind(control, treatment)
    diff = difference(control, treatment, relative=relative)
    if not diff.defined:
        return effect_result(control, treatment, diff, alpha=alpha, relative=relative)
    df = welch_df(control, treatment)
    statistic = diff.estimate / diff.std_error
    return effect_result(
        control,
        treatment,
        diff,
        alpha=alpha,
        relative=relative,
        halfwidth=float(student_t.ppf(1 - alpha / 2, df)) * diff.std_error,
        p_value=float(2 * student_t.sf(abs(statistic), df)),
        df=df,
    )
