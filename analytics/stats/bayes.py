"""Bayesian test of the effect: posterior, credible interval, chance to win and risk (expected loss).

As GrowthBook's gbstats `EffectBayesianABTest`: the data give the effect delta with variance
V = Var(delta) as in `effects` (absolute, or relative by the delta method), taken as a normal likelihood
of the effect. With a flat (improper) prior the posterior is N(delta, V). With a proper normal prior
N(m0, v0) on the effect, in the effect's own units (a fraction for a relative effect), it is the
precision-weighted

    1 / s^2 = 1 / V + 1 / v0,        mu = s^2 (delta / V + m0 / v0)

and the flat prior is the limit v0 -> inf: mu = delta, s^2 = V. From the posterior N(mu, s^2):

    credible interval    mu -/+ z_(1 - alpha/2) s                    (equal-tailed, level 1 - alpha)
    chance_to_win        P(effect > 0) = Phi(mu / s)
    risk_control         E[max(0,  effect)] = mu Phi(mu / s) + s phi(mu / s)
    risk_treatment       E[max(0, -effect)] = -mu Phi(-mu / s) + s phi(mu / s)

risk_control is what choosing the control is expected to give up, risk_treatment what shipping the
treatment is expected to cost, in the effect's units. gbstats writes the same expectations as
P(effect > 0) E[effect | effect > 0] and -P(effect < 0) E[effect | effect < 0] (`get_risk`).

For a metric where lower is better (cost, latency, error rate) a win is an effect below 0: the chance is
1 - Phi(mu / s) and the two risks swap, as gbstats does for an "inverse" metric. When the effect is
undefined (see `effects`) the test says nothing: chance 0.5, risk (0, 0), nan interval and std_error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

from analytics.stats.effects import Difference, check_alpha, check_same_kind, difference
from analytics.stats.sufficient import NAN, Statistic


@dataclass(frozen=True)
class BayesianResult:
    """The posterior of the effect (relative effects are fractions: 0.05 = +5%).

    risk is (risk_control, risk_treatment): the expected loss of keeping the control and of shipping the
    treatment, in the effect's units, both >= 0. std_error is the posterior standard deviation.
    """

    estimate: float
    ci_low: float
    ci_high: float
    chance_to_win: float
    risk: tuple[float, float]
    std_error: float
    relative: bool
    defined: bool


def _check_prior(prior_mean: float, prior_variance: float | None) -> None:
    if not math.isfinite(prior_mean):
        raise ValueError("prior_mean must be a finite number")
    if prior_variance is not None and not (math.isfinite(prior_variance) and prior_variance > 0):
        raise ValueError("prior_variance must be a positive finite number (or None for a flat prior)")


def posterior(
    diff: Difference, *, prior_mean: float = 0.0, prior_variance: float | None = None
) -> tuple[float, float]:
    """Posterior mean and standard deviation of the effect (formulas above); call it only when defined."""
    if prior_variance is None:
        return diff.estimate, diff.std_error
    precision = 1 / diff.variance + 1 / prior_variance
    mean = (diff.estimate / diff.variance + prior_mean / prior_variance) / precision
    return mean, math.sqrt(1 / precision)


def expected_losses(mean: float, sd: float) -> tuple[float, float]:
    """(E[max(0, X)], E[max(0, -X)]) for X ~ N(mean, sd^2): the risk of control and of treatment."""
    z = mean / sd
    density = sd * float(norm.pdf(z))
    gain = mean * float(norm.cdf(z)) + density
    loss = -mean * float(norm.cdf(-z)) + density
    return max(gain, 0.0), max(loss, 0.0)


def _undefined(diff: Difference, relative: bool) -> BayesianResult:
    return BayesianResult(
        estimate=diff.estimate,
        ci_low=NAN,
        ci_high=NAN,
        chance_to_win=0.5,
        risk=(0.0, 0.0),
        std_error=NAN,
        relative=relative,
        defined=False,
    )


def bayesian_test(
    control: Statistic,
    treatment: Statistic,
    *,
    alpha: float = 0.05,
    relative: bool = False,
    lower_is_better: bool = False,
    prior_mean: float = 0.0,
    prior_variance: float | None = None,
) -> BayesianResult:
    """The Bayesian test of treatment versus control; a flat prior unless prior_variance is given."""
    check_alpha(alpha)
    check_same_kind(control, treatment)
    _check_prior(prior_mean, prior_variance)
    diff = difference(control, treatment, relative=relative)
    if not diff.defined:
        return _undefined(diff, relative)
    mean, sd = posterior(diff, prior_mean=prior_mean, prior_variance=prior_variance)
    halfwidth = float(norm.ppf(1 - alpha / 2)) * sd
    higher = float(norm.sf(0, loc=mean, scale=sd))
    risk_control, risk_treatment = expected_losses(mean, sd)
    return BayesianResult(
        estimate=mean,
        ci_low=mean - halfwidth,
        ci_high=mean + halfwidth,
        chance_to_win=1 - higher if lower_is_better else higher,
        risk=(risk_treatment, risk_control) if lower_is_better else (risk_control, risk_treatment),
        std_error=sd,
        relative=relative,
        defined=True,
    )


def chance_to_win(
    control: Statistic, treatment: Statistic, *, lower_is_better: bool = False, relative: bool = False
) -> float:
    """Posterior probability, under a flat prior, that the treatment beats the control."""
    return bayesian_test(control, treatment, relative=relative, lower_is_better=lower_is_better).chance_to_win
