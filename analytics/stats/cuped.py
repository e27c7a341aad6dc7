"""CUPED (regression adjustment) for ratio metrics over users, with each user's pre-exposure value as the
covariate (Deng et al. 2013; the ratio form as in GrowthBook's regression-adjusted ratio statistic).

Per user i: the metric's numerator and denominator (m_i, d_i) during the experiment and (p_i, q_i) in
the weeks before the user's exposure. A mean metric is the ratio with d_i = 1. Linearised around the arm's
ratio R = sum m / sum d and the pooled pre-exposure ratio R' (both arms):

    L_i = (m_i - R d_i) / mean(d)          the unit's contribution to R's error: Var(R) = Var(L) / n
    P_i = (p_i - R' q_i) / mean(q)         its pre-exposure counterpart, in the same units

    theta     = (Cov_C(L, P) + Cov_T(L, P)) / (Var_C(P) + Var_T(P))      (pooled over the two arms)
    R_adj     = R - theta mean(P)          per arm; mean(P) is the arm's pre-exposure offset
    variance  = Var(L) - 2 theta Cov(L, P) + theta^2 Var(P)              (per unit, divide by n)

so with a covariate correlated at rho the variance falls to (1 - rho^2) of the unadjusted one. The result
is an `Adjusted` statistic (n, mean, per-unit variance), compared by the same Welch, sequential and
Bayesian tests as any other; `variance_reduction` says how much the adjustment saved.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from analytics.stats.sufficient import NAN, _Mergeable


@dataclass(frozen=True)
class CovariateSums(_Mergeable):
    """Per arm, the sums over users of the current (m, d) and pre-exposure (p, q) values and their
    products: what the roll-up's SQL gives."""

    n: int = 0
    m: float = 0.0
    d: float = 0.0
    p: float = 0.0
    q: float = 0.0
    mm: float = 0.0
    dd: float = 0.0
    md: float = 0.0
    pp: float = 0.0
    qq: float = 0.0
    pq: float = 0.0
    mp: float = 0.0
    mq: float = 0.0
    dp: float = 0.0
    dq: float = 0.0

    @classmethod
    def from_values(cls, rows) -> CovariateSums:
        """From per-user (m, d, p, q) tuples."""
        table = np.asarray(list(rows), dtype=np.float64).reshape(-1, 4)
        columns = dict(zip("mdpq", table.T, strict=True))
        sums = {f.name: float(np.prod([columns[c] for c in f.name], axis=0).sum()) for f in fields(cls)[1:]}
        return cls(n=len(table), **sums)

    def _cov(self, a: str, b: str) -> float:
        """Sample covariance of two per-user columns from their sums."""
        if self.n < 2:
            return NAN
        product = getattr(self, a + b) if hasattr(self, a + b) else getattr(self, b + a)
        return (product - getattr(self, a) * getattr(self, b) / self.n) / (self.n - 1)

    @property
    def has_pre_exposure(self) -> bool:
        return self.q > 0


@dataclass(frozen=True)
class Adjusted:
    """A regression-adjusted arm: n, its adjusted ratio and per-unit variance, and the unadjusted ones."""

    n: int
    mean: float
    variance: float
    raw_mean: float
    raw_variance: float

    @property
    def variance_reduction(self) -> float:
        """1 - adjusted / unadjusted variance (0.49 for a covariate correlated at 0.7)."""
        return 1 - self.variance / self.raw_variance if self.raw_variance > 0 else NAN


def _moments(arm: CovariateSums, pre_ratio: float, pre_scale: float) -> tuple[float, float, float, float]:
    """(Var(L), Cov(L, P), Var(P), mean(P)) of one arm."""
    ratio, scale = arm.m / arm.d, arm.d / arm.n
    c = arm._cov
    var_l = (c("m", "m") - 2 * ratio * c("m", "d") + ratio**2 * c("d", "d")) / scale**2
    var_p = (c("p", "p") - 2 * pre_ratio * c("p", "q") + pre_ratio**2 * c("q", "q")) / pre_scale**2
    cov = (c("m", "p") - pre_ratio * c("m", "q") - ratio * c("d", "p") + ratio * pre_ratio * c("d", "q")) / (
        scale * pre_scale
    )
    mean_p = (arm.p - pre_ratio * arm.q) / arm.n / pre_scale
    return max(var_l, 0.0), cov, max(var_p, 0.0), mean_p


def cuped_adjust(control: CovariateSums, treatment: CovariateSums) -> tuple[Adjusted, Adjusted] | None:
    """Both arms adjusted by one pooled theta, or None when there is nothing to adjust with (fewer than
    two users or no denominator in an arm, or no pre-exposure data or no spread in it)."""
    arms = (control, treatment)
    if any(arm.n < 2 or arm.d <= 0 for arm in arms):
        return None
    pooled = control + treatment
    if not pooled.has_pre_exposure:
        return None
    pre_ratio, pre_scale = pooled.p / pooled.q, pooled.q / pooled.n
    moments = [_moments(arm, pre_ratio, pre_scale) for arm in arms]
    spread = moments[0][2] + moments[1][2]
    if not spread > 0:
        return None
    theta = (moments[0][1] + moments[1][1]) / spread
    adjusted = []
    for arm, (var_l, cov, var_p, mean_p) in zip(arms, moments, strict=True):
        variance = max(var_l - 2 * theta * cov + theta**2 * var_p, 0.0)
        adjusted.append(Adjusted(arm.n, arm.m / arm.d - theta * mean_p, variance, arm.m / arm.d, var_l))
    return adjusted[0], adjusted[1]
