"""Power, sample size and minimum detectable effect for planning an experiment.

Two-sided tests at level alpha with power 1 - beta, equal allocation, normal approximation:

    mean metric:   n per variant = 2 (z_{1-alpha/2} + z_{1-beta})^2 sigma^2 / delta^2
    proportion:    n per variant = (z_{1-alpha/2} sqrt(2 pbar (1 - pbar)) + z_{1-beta} sqrt(p1 q1 + p2 q2))^2
                                   / (p2 - p1)^2,   pbar = (p1 + p2) / 2
                   (Fleiss, without continuity correction)
    MDE (mean):    delta = (z_{1-alpha/2} + z_{1-beta}) sigma sqrt(2 / n)

With k treatment arms compared to one control, alpha is split Bonferroni-style (alpha / k) so the family
of comparisons keeps its level. delta is absolute; callers pass a relative effect times the baseline.

`engine_sample_size` sizes an experiment for the report's own test: the family of `comparisons` p-values
(every treatment on every metric) corrected together, so the primary metric's p must fall below
alpha / comparisons when it is the first to be rejected (Holm's first step). With per-unit variance
sigma^2 (sigma_T^2 in the treatment: a relative lift of a cost scales its spread, sigma_T = (1 + lift)
sigma), n users per arm and delta the true change, se = sqrt((sigma^2 + sigma_T^2) / n) and

    fixed:       reject when |delta_hat| / se > z_{1 - alpha / (2 comparisons)}
    sequential:  reject when the always-valid p-value (see analytics' sequential test, rho set for the
                 experiment's alpha and the tuning N = 2n, the planned size of a pair of arms, as
                 GrowthBook tunes it) is below alpha / comparisons: with s = 2n rho^2 + 1,
                 z^2 > 2 s (ln(comparisons / alpha) + ln(s) / 2) / (2n rho^2)
    power(n) = Phi(|delta| / se - z_crit) + Phi(-|delta| / se - z_crit)

and the size is the smallest n with power(n) >= the target (found by doubling, then bisection).
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


def ratio_per_user(pairs) -> tuple[float, float]:
    """The ratio sum m / sum d over per-user (m, d) pairs (cost and calls) and its per-user delta-method
    s.d.: the report's unit variance of a per-call metric, so a plan sizes in users as the report tests."""
    users = len(pairs)
    if users < 2:
        raise ValueError("a per-user variance needs at least two users")
    mean_m = sum(m for m, _ in pairs) / users
    mean_d = sum(d for _, d in pairs) / users
    var_m = sum((m - mean_m) ** 2 for m, _ in pairs) / (users - 1)
    var_d = sum((d - mean_d) ** 2 for _, d in pairs) / (users - 1)
    cov = sum((m - mean_m) * (d - mean_d) for m, d in pairs) / (users - 1)
    ratio = mean_m / mean_d
    variance = (var_m - 2 * ratio * cov + ratio**2 * var_d) / mean_d**2
    return ratio, math.sqrt(max(variance, 0.0))


def _mixing_rho(alpha: float, tuning: float) -> float:
    """rho of the sequential test's mixture (Waudby-Smith et al., eq. 161), tightest near `tuning` units."""
    log_alpha = math.log(alpha)
    return math.sqrt((-2 * log_alpha + math.log(-2 * log_alpha + 1)) / tuning)


def critical_z(n_per_variant: int, *, engine: str, alpha: float, comparisons: int) -> float:
    """The |estimate / se| above which the report calls the primary metric significant at n per arm."""
    if engine != "sequential":
        return float(norm.ppf(1 - alpha / (2 * comparisons)))
    n = 2 * n_per_variant
    rho = _mixing_rho(alpha, n)
    spread = n * rho**2 + 1
    return math.sqrt(2 * spread * (math.log(comparisons / alpha) + 0.5 * math.log(spread)) / (n * rho**2))


def engine_power(
    *,
    sd: float,
    delta: float,
    n_per_variant: int,
    engine: str,
    alpha: float,
    comparisons: int = 1,
    treatment_sd: float | None = None,
) -> float:
    """The chance that the report finds a true change `delta` significant with n users per arm; the
    treatment's per-user s.d. is `treatment_sd` (a relative lift of a cost scales its spread too)."""
    spread = math.sqrt((sd**2 + (sd if treatment_sd is None else treatment_sd) ** 2) / n_per_variant)
    shift = abs(delta) / spread
    z = critical_z(n_per_variant, engine=engine, alpha=alpha, comparisons=comparisons)
    return float(norm.cdf(shift - z) + norm.cdf(-shift - z))


def engine_sample_size(
    *,
    sd: float,
    delta: float,
    engine: str,
    alpha: float = 0.05,
    power: float = 0.8,
    comparisons: int = 1,
    treatment_sd: float | None = None,
) -> int:
    """Users per arm for `power` against a true change `delta` under the report's engine and correction."""
    if delta == 0 or sd <= 0:
        raise ValueError("delta must be non-zero and sd positive")
    _z(alpha, power, comparisons)
    fields = {"sd": sd, "delta": delta, "engine": engine, "alpha": alpha, "comparisons": comparisons}
    fields["treatment_sd"] = treatment_sd
    high = max(2, sample_size_mean(sd=sd, delta=delta, alpha=alpha, power=power, comparisons=comparisons))
    while engine_power(n_per_variant=high, **fields) < power:
        high *= 2
    low = 1
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if engine_power(n_per_variant=middle, **fields) >= power else (middle, high)
    return high
