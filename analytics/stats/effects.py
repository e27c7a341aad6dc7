"""The treatment effect and its variance, shared by the frequentist, sequential and Bayesian tests.

With control C and treatment T, each giving n, mean and per-unit variance var (see `sufficient`):

    absolute:  delta = mean_T - mean_C
               Var(delta) = var_T / n_T + var_C / n_C

    relative:  delta = mean_T / mean_C - 1
               Var(delta) = var_T / (n_T mean_C^2) + mean_T^2 var_C / (n_C mean_C^4)
               (delta method for the ratio of two independent means, as GrowthBook's gbstats)

    Welch-Satterthwaite degrees of freedom, used for both:
               df = (var_T/n_T + var_C/n_C)^2 / ((var_T/n_T)^2 / (n_T - 1) + (var_C/n_C)^2 / (n_C - 1))

The effect is *defined* only when each arm has n >= 2 and a positive variance, and the estimate is
finite (a relative effect needs mean_C != 0). Otherwise every test returns an uninformative result:
p_value 1.0, nan interval, nan statistic and df, the estimate itself where it can be computed. Like
gbstats, one zero-variance arm is enough to make the effect undefined: a rate with no events in one arm
(0 errors out of n) gets p 1.0 here, so a report should show such a metric's counts, not a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analytics.stats.sufficient import NAN, Statistic


@dataclass(frozen=True)
class Difference:
    """The point estimate of the effect and the variance of that estimate."""

    estimate: float
    variance: float

    @property
    def std_error(self) -> float:
        return math.sqrt(self.variance) if self.variance >= 0 else NAN

    @property
    def defined(self) -> bool:
        return math.isfinite(self.estimate) and math.isfinite(self.variance) and self.variance > 0


@dataclass(frozen=True)
class EffectResult:
    """What a test says about treatment versus control (relative effects are fractions: 0.05 = +5%).

    df is the Welch-Satterthwaite df for the t test and inf for the normal-based sequential test;
    statistic is estimate / std_error. Undefined effects carry p_value 1.0 and nan interval.
    """

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    statistic: float
    df: float
    relative: bool
    control_mean: float
    treatment_mean: float
    n_control: int
    n_treatment: int
    std_error: float
    alpha: float

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError("alpha must lie strictly between 0 and 1")


def check_same_kind(control: Statistic, treatment: Statistic) -> None:
    if type(control) is not type(treatment):
        raise TypeError(f"cannot compare {type(control).__name__} with {type(treatment).__name__}")


def _has_spread(statistic: Statistic) -> bool:
    """At least two units and a positive per-unit variance (gbstats tests nothing otherwise)."""
    return statistic.n >= 2 and statistic.variance > 0


def difference(control: Statistic, treatment: Statistic, *, relative: bool) -> Difference:
    """The effect and its variance (formulas above); nan variance unless both arms have spread."""
    mean_c, mean_t = control.mean, treatment.mean
    var_c, var_t = NAN, NAN
    if _has_spread(control) and _has_spread(treatment):
        var_c, var_t = control.variance / control.n, treatment.variance / treatment.n
    if not relative:
        return Difference(mean_t - mean_c, var_t + var_c)
    if mean_c == 0 or math.isnan(mean_c):
        return Difference(NAN, NAN)
    variance = var_t / mean_c**2 + mean_t**2 * var_c / mean_c**4
    return Difference(mean_t / mean_c - 1, variance)


def welch_df(control: Statistic, treatment: Statistic) -> float:
    """Welch-Satterthwaite degrees of freedom; call it only when `difference` is defined."""
    var_c, var_t = control.variance / control.n, treatment.variance / treatment.n
    return (var_c + var_t) ** 2 / (var_c**2 / (control.n - 1) + var_t**2 / (treatment.n - 1))


def effect_result(
    control: Statistic,
    treatment: Statistic,
    diff: Difference,
    *,
    alpha: float,
    relative: bool,
    halfwidth: float = NAN,
    p_value: float = 1.0,
    df: float = NAN,
) -> EffectResult:
    """Assembles the result; with the defaults it is the uninformative result of an undefined effect."""
    defined = diff.defined
    return EffectResult(
        estimate=diff.estimate,
        ci_low=diff.estimate - halfwidth,
        ci_high=diff.estimate + halfwidth,
        p_value=p_value,
        statistic=diff.estimate / diff.std_error if defined else NAN,
        df=df,
        relative=relative,
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        n_control=control.n,
        n_treatment=treatment.n,
        std_error=diff.std_error if defined else NAN,
        alpha=alpha,
    )
