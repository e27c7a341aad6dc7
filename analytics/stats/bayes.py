"""Bayesian chance to win under an uninformative (flat, improper) prior on the effect.

With delta and Var(delta) as in `effects`, the posterior of the effect is normal, N(delta, Var(delta)),
as in GrowthBook's gbstats `EffectBayesianABTest` with a non-informative prior:

    chance_to_win = P(effect > 0 | data) = Phi(delta / sqrt(Var(delta)))

For a metric where lower is better (cost, latency, error rate) a win is an effect below 0, so the
chance is 1 - Phi(...). When the effect is undefined (see `effects`) the chance is 0.5: no evidence.
"""

from __future__ import annotations

from scipy.stats import norm

from analytics.stats.effects import check_same_kind, difference
from analytics.stats.sufficient import Statistic


def chance_to_win(
    control: Statistic, treatment: Statistic, *, lower_is_better: bool = False, relative: bool = False
) -> float:
    """Posterior probability that the treatment beats the control."""
    check_same_kind(control, treatment)
    diff = difference(control, treatment, relative=relative)
    if not diff.defined:
        return 0.5
    higher = float(norm.cdf(diff.estimate / diff.std_error))
    return 1 - higher if lower_is_better else higher
