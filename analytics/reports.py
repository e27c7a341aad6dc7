"""The significance report of an experiment, built from roll-ups alone (never from the call table).

For the current phase, each variant's users are the unit: per-call metrics are ratio metrics over users
(the delta method keeps calls of one user from passing for independent samples). Each treatment is
compared with the control on every metric by the engine in analytics/stats; p-values are Holm-corrected
across metrics; guardrails fail on a significant change for the worse; a sample-ratio-mismatch check
guards the split; latency percentiles come from the roll-up's histogram.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection

from analytics.rollups import histogram_percentile
from analytics.stats import EffectResult, RatioStat, holm, sample_ratio_mismatch, sequential_test, welch_test

# metric key -> (label, numerator column, denominator column, lower is better, guardrail group, unit)
CALL_METRICS = {
    "cost": ("cost per call", "cost", "calls", True, "cost", "usd"),
    "latency": ("latency per call (mean)", "latency_ms", "latency_calls", True, "latency", "ms"),
    "error_rate": ("error rate", "errors", "calls", True, "error_rate", "rate"),
    "fallback_rate": ("fallback rate", "fallbacks", "calls", True, None, "rate"),
}
PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))

USER_SUMS = """
SELECT variant, COUNT(*),
       {columns}
FROM analytics_useraggregate WHERE experiment_id = %s AND phase = %s GROUP BY variant
"""
SCORE_SUMS = """
SELECT variant, scorer, COUNT(*), SUM(total), SUM(total * total), SUM(n), SUM(n * n), SUM(total * n)
FROM analytics_userscoreaggregate WHERE experiment_id = %s AND phase = %s GROUP BY variant, scorer
"""
HISTOGRAM = """
SELECT variant, bucket, count FROM analytics_latencyhistogram WHERE experiment_id = %s AND phase = %s
"""


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
    guardrail: str | None  # "pass", "fail" or None when the metric is no guardrail


@dataclass(frozen=True)
class VariantSummary:
    key: str
    weight: float
    users: int
    calls: int
    percentiles: dict[str, float | None]


@dataclass(frozen=True)
class ExperimentReport:
    experiment_id: int
    experiment: str
    route: str
    status: str
    phase: int
    engine: str
    alpha: float
    primary_metric: str
    variants: list[VariantSummary]
    srm_p_value: float | None
    srm_mismatch: bool
    required_users: int
    progress: float
    rows: list[MetricRow]
    verdict: list[str]
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def as_json(self) -> dict:
        return _finite(asdict(self))


def _finite(value):
    """JSON has no NaN or infinity: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _user_sums(experiment_id: int, phase: int) -> dict[str, dict]:
    columns = ["SUM(calls)"]
    for _, numerator, denominator, *_ in CALL_METRICS.values():
        columns += [
            f"SUM({numerator})",
            f"SUM({numerator} * {numerator})",
            f"SUM({denominator})",
            f"SUM({denominator} * {denominator})",
            f"SUM({numerator} * {denominator})",
        ]
    with connection.cursor() as cursor:
        cursor.execute(USER_SUMS.format(columns=", ".join(columns)), [experiment_id, phase])
        rows = cursor.fetchall()
    return {row[0]: _ratio_stats(row) for row in rows}


def _ratio_stats(row) -> dict:
    users, calls, sums = int(row[1]), int(row[2] or 0), row[3:]
    stats = {"users": users, "calls": calls}
    for index, key in enumerate(CALL_METRICS):
        s = [float(v or 0) for v in sums[index * 5 : (index + 1) * 5]]
        stats[key] = RatioStat(users, s[0], s[1], s[2], s[3], s[4])
    return stats


def _score_sums(experiment_id: int, phase: int) -> dict[str, dict[str, RatioStat]]:
    with connection.cursor() as cursor:
        cursor.execute(SCORE_SUMS, [experiment_id, phase])
        rows = cursor.fetchall()
    scores: dict[str, dict[str, RatioStat]] = {}
    for variant, scorer, users, *sums in rows:
        scores.setdefault(variant, {})[scorer] = RatioStat(int(users), *(float(v or 0) for v in sums))
    return scores


def _percentiles(experiment_id: int, phase: int) -> dict[str, dict[str, float | None]]:
    with connection.cursor() as cursor:
        cursor.execute(HISTOGRAM, [experiment_id, phase])
        rows = cursor.fetchall()
    counts: dict[str, dict[int, int]] = {}
    for variant, bucket, count in rows:
        counts.setdefault(variant, {})[bucket] = count
    return {v: {name: histogram_percentile(c, q) for name, q in PERCENTILES} for v, c in counts.items()}


def _test(control: RatioStat, treatment: RatioStat, alpha: float, relative: bool) -> EffectResult:
    test = sequential_test if settings.STATS_ENGINE == "sequential" else welch_test
    return test(control, treatment, alpha=alpha, relative=relative)


@dataclass(frozen=True)
class _Metric:
    key: str
    label: str
    unit: str
    lower_is_better: bool
    guardrail_group: str | None
    control: RatioStat
    treatment: RatioStat


def _metrics(control: dict, treatment: dict, control_scores: dict, treatment_scores: dict) -> list[_Metric]:
    metrics = [
        _Metric(key, label, unit, lower, group, control[key], treatment[key])
        for key, (label, _, _, lower, group, unit) in CALL_METRICS.items()
    ]
    for scorer in sorted(set(control_scores) & set(treatment_scores)):
        metrics.append(
            _Metric(
                f"quality:{scorer}",
                f"quality ({scorer})",
                "score",
                False,
                "quality",
                control_scores[scorer],
                treatment_scores[scorer],
            )
        )
    return metrics


def _rows(variant: str, metrics: list[_Metric], alpha: float, guardrails: set[str]) -> list[MetricRow]:
    absolute = [_test(m.control, m.treatment, alpha, relative=False) for m in metrics]
    relative = [_test(m.control, m.treatment, alpha, relative=True) for m in metrics]
    adjusted = holm([r.p_value for r in absolute])
    rows = []
    for m, abs_result, rel_result, p in zip(metrics, absolute, relative, adjusted, strict=True):
        significant = p < alpha
        worse = (abs_result.estimate > 0) == m.lower_is_better
        direction = ("worse" if worse else "better") if significant else None
        guardrail = (
            None if m.guardrail_group not in guardrails else ("fail" if direction == "worse" else "pass")
        )
        rows.append(
            MetricRow(
                m.key,
                m.label,
                variant,
                m.unit,
                m.lower_is_better,
                m.control.mean,
                m.treatment.mean,
                abs_result,
                rel_result,
                p,
                significant,
                direction,
                guardrail,
            )
        )
    return rows


def _percent(value: float) -> str:
    return f"{value * 100:+.0f}%" if math.isfinite(value) else "n/a"


def _describe(row: MetricRow) -> str:
    rel = row.relative
    if row.unit == "score":
        change = (
            f"{row.absolute.estimate * 100:+.1f} points [{row.absolute.ci_low * 100:+.1f}, "
            f"{row.absolute.ci_high * 100:+.1f}]"
        )
    else:
        change = f"{_percent(rel.estimate)} [{_percent(rel.ci_low)}, {_percent(rel.ci_high)}]"
    if not row.significant:
        interval = row.absolute
        if (
            interval.ci_low > 0 or interval.ci_high < 0
        ):  # the raw interval excludes 0, the corrected p does not
            return (
                f"the {row.label} change, {change}, is not significant once corrected for the "
                f"other metrics (p = {row.p_adjusted:.3f})"
            )
        return f"the {row.label} change, {change}, is not significant"
    if row.unit != "score" and row.direction == "better" and rel.estimate < 0:
        cut = f"{-rel.estimate * 100:.0f}% [{-rel.ci_high * 100:.0f}%, {-rel.ci_low * 100:.0f}%]"
        return f"{row.variant} cuts {row.label} by {cut}"
    return f"{row.variant} changes {row.label} by {change}, which is {row.direction}"


def _verdict(rows: list[MetricRow], srm_mismatch: bool, progress: float) -> list[str]:
    lines = []
    for variant in dict.fromkeys(row.variant for row in rows):
        mine = [r for r in rows if r.variant == variant]
        headline = [r for r in mine if r.key == "cost" or r.key.startswith("quality:")]
        lines.append("; ".join(_describe(r) for r in headline) + ".")
        failed = [r.label for r in mine if r.guardrail == "fail"]
        if failed:
            lines.append(
                f"{variant} fails its guardrails on {', '.join(failed)}: do not promote it as it is."
            )
    if srm_mismatch:
        lines.append(
            "Sample ratio mismatch (p < 0.001): the split is not what the weights say; fix it first."
        )
    if progress < 1:
        lines.append(f"The sample is {progress:.0%} of the minimum per variant; keep collecting.")
    return lines


def experiment_report(*, experiment) -> ExperimentReport:
    """The report of an experiment's current phase from its roll-ups (see the module docstring)."""
    variants = list(experiment.variants.order_by("position"))
    users = _user_sums(experiment.id, experiment.phase)
    scores = _score_sums(experiment.id, experiment.phase)
    percentiles = _percentiles(experiment.id, experiment.phase)
    empty = {"users": 0, "calls": 0, **{key: RatioStat(0, 0, 0, 0, 0, 0) for key in CALL_METRICS}}
    control = variants[0].key
    guardrails = set(experiment.guardrail_metrics or [])
    rows = []
    for variant in variants[1:]:
        metrics = _metrics(
            users.get(control, empty),
            users.get(variant.key, empty),
            scores.get(control, {}),
            scores.get(variant.key, {}),
        )
        rows += _rows(variant.key, metrics, experiment.alpha, guardrails)
    counts = [users.get(v.key, empty)["users"] for v in variants]
    srm = sample_ratio_mismatch(counts, [v.weight for v in variants]) if sum(counts) else None
    progress = min(min(counts) / experiment.min_sample_per_variant, 1.0) if counts else 0.0
    summaries = [
        VariantSummary(
            v.key,
            v.weight,
            users.get(v.key, empty)["users"],
            users.get(v.key, empty)["calls"],
            percentiles.get(v.key, {name: None for name, _ in PERCENTILES}),
        )
        for v in variants
    ]
    return ExperimentReport(
        experiment.id,
        experiment.name,
        experiment.route.name,
        experiment.status,
        experiment.phase,
        settings.STATS_ENGINE,
        experiment.alpha,
        experiment.primary_metric,
        summaries,
        srm.p_value if srm else None,
        bool(srm and srm.mismatch),
        experiment.min_sample_per_variant,
        progress,
        rows,
        _verdict(rows, bool(srm and srm.mismatch), progress),
    )
