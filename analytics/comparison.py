"""Every treatment against the control on every metric, and what a team may do about it: pure, no Django.

The report builds `MetricInput`s from its roll-ups and calls `compare`; the plan's simulations call the
same function, so the power and the error rates they measure are the report's own.

- Engines: `sequential` (always-valid, look daily), `fixed` (Welch, one look at the planned size),
  `bayesian` (chance to win, risk, credible interval; significant when the chance to win is beyond
  1 - alpha/2 either way, uncorrected, as GrowthBook does).
- Quantiles (latency p50, p95, p99): the cluster-robust quantile estimate of each arm (`stats.quantile`),
  compared by a z test at one look, or on the engine's always-valid boundary (sequential) or as a normal
  posterior under a flat prior (Bayesian).
- CUPED: a metric whose arms come regression-adjusted (`stats.cuped.Adjusted`) is tested on the adjusted
  means and variances; the row keeps the variance reduction.
- Family-wise control: the p-values of every treatment on every metric form one family, corrected by
  Holm (family-wise error) or Benjamini-Hochberg (false discovery rate).
- Rare events: a rate metric (errors, fallbacks) with no event in an arm, where the engine's variance is
  undefined, is tested exactly: given k events in all, the treatment's count is Binomial(k, n_T / (n_C +
  n_T)) under the null, the calls as the exposure (Poisson rates), two-sided. A zero-event arm then
  still gives a verdict (0 errors against 108 fails) instead of an uninformative p of 1.
- Guardrails with a non-inferiority margin m (relative, 0.02 = 2% worse allowed): with m = 0 a guardrail
  fails on a significant change for the worse and passes otherwise; with m > 0 it passes once the
  interval's worse end lies within m, fails once the interval lies beyond m (or the change is
  significantly worse and its estimate beyond m), and is `undecided` in between. A guardrail whose
  effect is undefined (too few users) is `undecided`, never `pass`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from scipy.stats import binomtest, norm

from analytics.stats import (
    EffectResult,
    Statistic,
    bayesian_test,
    benjamini_hochberg,
    holm,
    sequential_test,
    welch_test,
)
from analytics.stats.bayes import expected_losses
from analytics.stats.cuped import Adjusted
from analytics.stats.quantile import QuantileEstimate, quantile_test
from analytics.stats.sequential import DEFAULT_TUNING, mixing_rho, sequential_halfwidth, sequential_p_value

ENGINES = ("sequential", "fixed", "bayesian")
CORRECTIONS = ("holm", "bh")


@dataclass(frozen=True)
class MetricInput:
    """One metric of one treatment against the control; `events` (control events, control calls,
    treatment events, treatment calls) for a rate metric."""

    key: str
    label: str
    unit: str
    lower_is_better: bool
    guardrail_group: str | None
    control: Statistic | QuantileEstimate | Adjusted
    treatment: Statistic | QuantileEstimate | Adjusted
    events: tuple[int, int, int, int] | None = None
    variance_reduction: float | None = None  # CUPED's, when the arms are regression-adjusted


@dataclass(frozen=True)
class Design:
    """How the comparison is judged: the experiment's alpha, engine, correction and guardrails."""

    alpha: float = 0.05
    engine: str = "sequential"
    correction: str = "holm"
    tuning: float = DEFAULT_TUNING
    guardrails: frozenset[str] = frozenset()
    margins: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine {self.engine!r}: use one of {', '.join(ENGINES)}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction {self.correction!r}: use one of {', '.join(CORRECTIONS)}")


@dataclass(frozen=True)
class MetricRow:
    key: str
    label: str
    variant: str
    unit: str
    lower_is_better: bool
    control: float
    treatment: float
    absolute: EffectResult
    relative: EffectResult
    p_adjusted: float
    significant: bool
    direction: str | None  # "better", "worse" or None when not significant
    guardrail: str | None  # "pass", "fail", "undecided" or None when the metric is no guardrail
    test: str = "welch"  # welch, sequential, bayesian or exact (rare events)
    margin: float | None = None
    chance_to_win: float | None = None
    risk: tuple[float, float] | None = None
    variance_reduction: float | None = None


def _quantile_test(
    metric: MetricInput, design: Design, relative: bool
) -> tuple[EffectResult, float | None, tuple | None]:
    """A quantile row: the quantile z test, its boundary the engine's (always-valid for sequential)."""
    control, treatment = metric.control, metric.treatment
    fixed = quantile_test(control, treatment, alpha=design.alpha, relative=relative)
    if not math.isfinite(fixed.std_error):
        return fixed, None, None
    variance, units = fixed.std_error**2, control.users + treatment.users
    if design.engine == "sequential":
        rho = mixing_rho(design.alpha, design.tuning)
        halfwidth = sequential_halfwidth(variance, units, alpha=design.alpha, rho=rho)
        p_value = sequential_p_value(fixed.estimate, variance, units, rho=rho)
        fixed = replace(
            fixed, ci_low=fixed.estimate - halfwidth, ci_high=fixed.estimate + halfwidth, p_value=p_value
        )
    if design.engine == "bayesian":  # flat prior: the posterior is N(estimate, se^2)
        higher = float(norm.cdf(fixed.estimate / fixed.std_error))
        losses = expected_losses(fixed.estimate, fixed.std_error)
        chance, risk = (1 - higher, losses[::-1]) if metric.lower_is_better else (higher, losses)
        return fixed, chance, tuple(risk)
    return fixed, None, None


def _engine_test(
    metric: MetricInput, design: Design, relative: bool
) -> tuple[EffectResult, float | None, tuple | None]:
    """The engine's result, with the Bayesian chance to win and risk when the engine is Bayesian."""
    if isinstance(metric.control, QuantileEstimate):
        return _quantile_test(metric, design, relative)
    if design.engine == "bayesian":
        result = bayesian_test(
            metric.control,
            metric.treatment,
            alpha=design.alpha,
            relative=relative,
            lower_is_better=metric.lower_is_better,
        )
        higher = result.chance_to_win if not metric.lower_is_better else 1 - result.chance_to_win
        p_value = min(1.0, 2 * min(higher, 1 - higher)) if result.defined else 1.0
        effect = EffectResult(
            estimate=result.estimate,
            ci_low=result.ci_low,
            ci_high=result.ci_high,
            p_value=p_value,
            statistic=result.estimate / result.std_error if result.defined else math.nan,
            df=math.inf,
            relative=relative,
            control_mean=metric.control.mean,
            treatment_mean=metric.treatment.mean,
            n_control=metric.control.n,
            n_treatment=metric.treatment.n,
            std_error=result.std_error,
            alpha=design.alpha,
        )
        return effect, result.chance_to_win, tuple(result.risk)
    if design.engine == "sequential":
        effect = sequential_test(
            metric.control, metric.treatment, alpha=design.alpha, relative=relative, tuning=design.tuning
        )
    else:
        effect = welch_test(metric.control, metric.treatment, alpha=design.alpha, relative=relative)
    return effect, None, None


def exact_rate_p(events: tuple[int, int, int, int]) -> float:
    """Two-sided exact p-value that two Poisson rates are equal, conditional on the total count."""
    control_events, control_calls, treatment_events, treatment_calls = events
    total = control_events + treatment_events
    if total == 0 or control_calls <= 0 or treatment_calls <= 0:
        return 1.0
    share = treatment_calls / (control_calls + treatment_calls)
    return float(binomtest(treatment_events, total, share).pvalue)


def _rare(metric: MetricInput) -> bool:
    """A rate with no event in one arm: the engine's variance is undefined there, the exact test is not."""
    return metric.events is not None and min(metric.events[0], metric.events[2]) == 0


@dataclass(frozen=True)
class _Tested:
    metric: MetricInput
    variant: str
    absolute: EffectResult
    relative: EffectResult
    test: str
    chance_to_win: float | None
    risk: tuple | None


def _tested(variant: str, metric: MetricInput, design: Design) -> _Tested:
    absolute, chance, risk = _engine_test(metric, design, relative=False)
    relative, _, _ = _engine_test(metric, design, relative=True)
    test = {"sequential": "sequential", "fixed": "welch", "bayesian": "bayesian"}[design.engine]
    if isinstance(metric.control, QuantileEstimate):
        test = f"quantile, {test if design.engine != 'fixed' else 'z'}"
    if _rare(metric) and design.engine != "bayesian":
        absolute = replace(absolute, p_value=exact_rate_p(metric.events))
        test = "exact"
    return _Tested(metric, variant, absolute, relative, test, chance, risk)


def _adjust(p_values: Sequence[float], design: Design) -> list[float]:
    if design.engine == "bayesian" or not p_values:
        return list(p_values)
    return holm(p_values) if design.correction == "holm" else benjamini_hochberg(p_values)


def _worse_and_better_ends(row: _Tested) -> tuple[float, float]:
    """The relative interval's ends as amounts of worsening (positive: worse): its worst and best end."""
    low, high = row.relative.ci_low, row.relative.ci_high
    return (high, low) if row.metric.lower_is_better else (-low, -high)


def guardrail_state(row: _Tested, significant: bool, worse: bool, margin: float) -> str:
    """pass, fail or undecided (see the module docstring)."""
    defined = math.isfinite(row.absolute.std_error) or row.test == "exact"
    if significant and worse and (margin == 0 or _beyond(row, margin)):
        return "fail"
    if not defined:
        return "undecided"
    if margin == 0:
        return "pass"
    worse_end, better_end = _worse_and_better_ends(row)
    if not (math.isfinite(worse_end) and math.isfinite(better_end)):
        return "undecided"
    if worse_end < margin:
        return "pass"
    return "fail" if better_end > margin else "undecided"


def _beyond(row: _Tested, margin: float) -> bool:
    """Whether the relative estimate is worse than the margin (an undefined one counts as beyond it)."""
    estimate = row.relative.estimate
    if not math.isfinite(estimate):
        return True
    worse = estimate if row.metric.lower_is_better else -estimate
    return worse > margin


def compare(arms: Sequence[tuple[str, Sequence[MetricInput]]], design: Design) -> list[MetricRow]:
    """Rows for every (treatment, metric), the p-values corrected across all of them at once."""
    tested = [_tested(variant, metric, design) for variant, metrics in arms for metric in metrics]
    adjusted = _adjust([t.absolute.p_value for t in tested], design)
    rows = []
    for t, p in zip(tested, adjusted, strict=True):
        m = t.metric
        significant = p < design.alpha
        worse = (t.absolute.estimate > 0) == m.lower_is_better
        direction = ("worse" if worse else "better") if significant else None
        margin = float(design.margins.get(m.guardrail_group or "", 0.0))
        guardrail = None
        if m.guardrail_group in design.guardrails:
            guardrail = guardrail_state(t, significant, worse, margin)
        rows.append(
            MetricRow(
                m.key,
                m.label,
                t.variant,
                m.unit,
                m.lower_is_better,
                m.control.mean,
                m.treatment.mean,
                t.absolute,
                t.relative,
                p,
                significant,
                direction,
                guardrail,
                t.test,
                margin if guardrail is not None else None,
                t.chance_to_win,
                t.risk,
                m.variance_reduction,
            )
        )
    return rows


# -- what to do ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Per treatment: ship, no-ship or wait, and why."""

    variant: str
    state: str
    reasons: tuple[str, ...]


def decisions(
    rows: Sequence[MetricRow], *, primary: str, srm_mismatch: bool, progress: float
) -> list[Decision]:
    """Ship only when the primary metric is significantly better, every guardrail passes, the split is
    sound and the required sample is in; no-ship on a failed guardrail or a worse primary metric."""
    out = []
    for variant in dict.fromkeys(row.variant for row in rows):
        mine = [row for row in rows if row.variant == variant]
        reasons, blocking = [], False
        failed = [row.label for row in mine if row.guardrail == "fail"]
        undecided = [row.label for row in mine if row.guardrail == "undecided"]
        if failed:
            reasons.append(f"guardrail failed: {', '.join(failed)}")
            blocking = True
        if undecided:
            reasons.append(f"guardrail undecided (not enough data): {', '.join(undecided)}")
        if srm_mismatch:
            reasons.append("sample ratio mismatch")
        if progress < 1:
            reasons.append(f"under the required sample ({progress:.0%})")
        heads = [row for row in mine if _is_primary(row, primary)]
        if any(row.direction == "worse" for row in heads):
            reasons.append(f"{primary} is significantly worse")
            blocking = True
        elif not any(row.direction == "better" for row in heads):
            reasons.append(f"{primary} is not significantly better")
        state = "no-ship" if blocking else ("ship" if not reasons else "wait")
        out.append(Decision(variant, state, tuple(reasons)))
    return out


def _is_primary(row: MetricRow, primary: str) -> bool:
    return row.key == primary or (primary == "quality" and row.key.startswith("quality:"))
