"""Quantile tests (p50, p95, p99 latency) from bucketed distributions, cluster-robust for calls within users.

The sample quantile xi_q of one arm is read off its histogram (`histogram_point`: the bucket it falls in
and the fraction of that bucket below it, interpolating linearly). Its uncertainty comes from the share of
calls below xi_q, which is a ratio metric over users (below_i / n_i summed), so its delta-method variance
(see `sufficient.RatioStat`) counts the calls of one user as the correlated draws they are:

    Var(P)        = RatioStat(below_i, n_i).variance / users
    lower, upper  = Q(q - z sqrt(Var(P))), Q(q + z sqrt(Var(P)))      (z = Phi^-1(1 - alpha / 2), Q the
                                                                      histogram's quantile function)
    se(xi_q)      = (upper - lower) / (2 z)

which is GrowthBook's cluster-adjusted quantile interval (Woodruff's method on the order statistics,
with the proportion's variance taken over clusters). Two arms then compare as independent normal
estimates:

    absolute:  delta = xi_T - xi_C,            Var = se_T^2 + se_C^2
    relative:  delta = xi_T / xi_C - 1,        Var = se_T^2 / xi_C^2 + xi_T^2 se_C^2 / xi_C^4
    p = 2 (1 - Phi(|delta| / sqrt(Var))),      CI = delta -/+ z sqrt(Var)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scipy.stats import norm

from analytics.stats.effects import EffectResult, check_alpha
from analytics.stats.sufficient import NAN, RatioStat

BucketBounds = Callable[[int], tuple[float, float]]


@dataclass(frozen=True)
class HistogramPoint:
    """Where a quantile falls: its bucket, the share of that bucket below it, and the value."""

    bucket: int
    fraction: float
    value: float


def histogram_quantile(counts: Mapping[int, int], q: float, bounds: BucketBounds) -> HistogramPoint | None:
    """The q-quantile of bucketed counts, interpolated linearly inside its bucket; None without data."""
    total = sum(counts.values())
    if total == 0:
        return None
    q = min(max(q, 0.0), 1.0)
    target, seen = q * total, 0
    ordered = sorted(bucket for bucket, count in counts.items() if count > 0)
    for bucket in ordered:
        count = counts[bucket]
        if seen + count >= target:
            low, high = bounds(bucket)
            fraction = (target - seen) / count
            return HistogramPoint(bucket, fraction, low + fraction * (high - low))
        seen += count
    low, high = bounds(ordered[-1])
    return HistogramPoint(ordered[-1], 1.0, high)


@dataclass(frozen=True)
class QuantileEstimate:
    """One arm's quantile, its standard error and the calls and users behind it."""

    q: float
    value: float
    std_error: float
    calls: int
    users: int

    @property
    def defined(self) -> bool:
        return math.isfinite(self.value) and math.isfinite(self.std_error) and self.std_error > 0

    @property
    def mean(self) -> float:
        """The estimate, under the name a report reads an arm's value by."""
        return self.value

    @property
    def n(self) -> int:
        return self.users


def quantile_estimate(
    counts: Mapping[int, int], q: float, below: RatioStat, bounds: BucketBounds, *, alpha: float = 0.05
) -> QuantileEstimate:
    """The arm's q-quantile and its cluster-robust standard error; `below` holds, per user, the calls
    below the quantile (the histogram point's bucket and fraction) and all the user's calls."""
    check_alpha(alpha)
    point = histogram_quantile(counts, q, bounds)
    calls = sum(counts.values())
    if point is None or below.n < 2:
        return QuantileEstimate(q, point.value if point else NAN, NAN, calls, below.n)
    z = float(norm.ppf(1 - alpha / 2))
    spread = z * math.sqrt(below.variance / below.n)
    lower = histogram_quantile(counts, q - spread, bounds)
    upper = histogram_quantile(counts, q + spread, bounds)
    std_error = (upper.value - lower.value) / (2 * z)
    return QuantileEstimate(q, point.value, std_error, calls, below.n)


def quantile_test(
    control: QuantileEstimate, treatment: QuantileEstimate, *, alpha: float = 0.05, relative: bool = False
) -> EffectResult:
    """Two-sided z test of the treatment's quantile against the control's (formulas above)."""
    check_alpha(alpha)
    defined = control.defined and treatment.defined and (not relative or control.value != 0)
    if relative:
        estimate = treatment.value / control.value - 1 if control.value else NAN
        variance = (
            treatment.std_error**2 / control.value**2
            + treatment.value**2 * control.std_error**2 / control.value**4
            if defined
            else NAN
        )
    else:
        estimate = treatment.value - control.value
        variance = treatment.std_error**2 + control.std_error**2 if defined else NAN
    std_error = math.sqrt(variance) if defined else NAN
    halfwidth = float(norm.ppf(1 - alpha / 2)) * std_error if defined else NAN
    statistic = estimate / std_error if defined else NAN
    return EffectResult(
        estimate=estimate,
        ci_low=estimate - halfwidth,
        ci_high=estimate + halfwidth,
        p_value=float(2 * norm.sf(abs(statistic))) if defined else 1.0,
        statistic=statistic,
        df=math.inf if defined else NAN,
        relative=relative,
        control_mean=control.value,
        treatment_mean=treatment.value,
        n_control=control.users,
        n_treatment=treatment.users,
        std_error=std_error,
        alpha=alpha,
    )
