"""The significance report of an experiment, built from roll-ups alone (never from the call table).

For the current phase, each variant's users are the unit: per-call metrics are ratio metrics over users
(the delta method keeps calls of one user from passing for independent samples). `analytics.comparison`
compares each treatment with the control on every metric with the experiment's engine, corrects the
p-values across every treatment and metric at once, tests rare events exactly and judges guardrails
against their margins; a sample-ratio-mismatch check guards the split; each treatment gets a decision
(ship, wait, no-ship) with its reasons; latency percentiles come from the roll-up's histogram.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from analytics.comparison import Decision, Design, MetricInput, MetricRow, compare, decisions
from analytics.rollups import bucket_bounds, histogram_percentile
from analytics.scoring_config import ScoringConfigError, scoring_settings
from analytics.stats import RatioStat, sample_ratio_mismatch
from analytics.stats.cuped import CovariateSums, cuped_adjust
from analytics.stats.quantile import QuantileEstimate, histogram_quantile, quantile_estimate
from routing.models import Call

# metric key -> (label, numerator column, denominator column, lower is better, guardrail group, unit)
CALL_METRICS = {
    "cost": ("cost per call", "cost", "calls", True, "cost", "usd"),
    "latency": ("latency per call (mean)", "latency_ms", "latency_calls", True, "latency", "ms"),
    "error_rate": ("error rate", "errors", "calls", True, "error_rate", "rate"),
    "fallback_rate": ("fallback rate", "fallbacks", "calls", True, None, "rate"),
}
PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
# quantile metrics tested per arm: key, label, measure, q (all in the latency guardrail group); a route's
# time-to-first-token rows appear where its calls stream
LATENCY_QUANTILES = tuple((f"latency_{name}", f"latency {name}", "latency", q) for name, q in PERCENTILES)
TTFT_QUANTILES = tuple((f"ttft_{name}", f"time to first token {name}", "ttft", q) for name, q in PERCENTILES)
QUANTILE_METRICS = LATENCY_QUANTILES + TTFT_QUANTILES

USER_HISTOGRAM = """
SELECT measure, variant, bucket, SUM(count) FROM analytics_userlatencyhistogram
WHERE experiment_id = %s AND phase = %s GROUP BY measure, variant, bucket
"""
BELOW = """
SELECT COUNT(*), SUM(below), SUM(below * below), SUM(n), SUM(n * n), SUM(below * n) FROM (
    SELECT COALESCE(SUM(count) FILTER (WHERE bucket < %(bucket)s), 0)
           + %(fraction)s * COALESCE(SUM(count) FILTER (WHERE bucket = %(bucket)s), 0) AS below,
           SUM(count) AS n
    FROM analytics_userlatencyhistogram
    WHERE experiment_id = %(experiment)s AND phase = %(phase)s AND variant = %(variant)s
      AND measure = %(measure)s
    GROUP BY user_hash
) per_user
"""

USER_SUMS = """
WITH users AS (SELECT * FROM analytics_useraggregate WHERE experiment_id = %s AND phase = %s),
caps AS MATERIALIZED (  -- computed once: inlined, a stale row estimate made it one per user (quadratic)
    SELECT percentile_cont(%s) WITHIN GROUP (ORDER BY cost) AS cost,
           percentile_cont(%s) WITHIN GROUP (ORDER BY latency_ms) AS latency_ms
    FROM users
)
SELECT variant, COUNT(*),
       {columns}
FROM users, caps GROUP BY variant
"""
CAPPED = ("cost", "latency_ms")
# each roll-up column's pre-exposure counterpart, the CUPED covariate
PRE_COLUMNS = {
    name: f"pre_{name}" for name in ("calls", "cost", "latency_ms", "latency_calls", "errors", "fallbacks")
}
SEGMENT_SUMS = """
SELECT segment_key, segment_value, variant, COUNT(*), {columns} FROM analytics_usersegmentaggregate
WHERE experiment_id = %s AND phase = %s GROUP BY segment_key, segment_value, variant
"""
MAX_SEGMENTS = 20
COVARIATE_SUMS = """
SELECT variant, COUNT(*), {columns} FROM analytics_useraggregate
WHERE experiment_id = %s AND phase = %s GROUP BY variant
"""  # per-user totals winsorised at the experiment's capping percentile
SCORE_SUMS = """
SELECT variant, scorer, COUNT(*), SUM(total), SUM(total * total), SUM(n), SUM(n * n), SUM(total * n)
FROM analytics_userscoreaggregate WHERE experiment_id = %s AND phase = %s GROUP BY variant, scorer
"""
HISTOGRAM = """
SELECT variant, bucket, count FROM analytics_latencyhistogram WHERE experiment_id = %s AND phase = %s
"""


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
    correction: str = "holm"
    decisions: list[Decision] = field(default_factory=list)
    segments: list[SegmentResult] = field(default_factory=list)
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    def decision_of(self, variant: str) -> Decision | None:
        return next((decision for decision in self.decisions if decision.variant == variant), None)

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


def _user_sums(experiment_id: int, phase: int, capping: float | None = None) -> dict[str, dict]:
    """Per variant the sums of the users' totals; with `capping` (a percentile such as 0.99), each user's
    cost and latency total is first capped at that percentile of all the phase's users (winsorisation,
    as GrowthBook caps a user's value), so a handful of huge users cannot swamp the means."""
    with connection.cursor() as cursor:
        level = 1.0 if capping is None else capping  # the 100th percentile is the largest: no cap
        columns = _sum_columns(capped=True)
        cursor.execute(USER_SUMS.format(columns=columns), [experiment_id, phase, level, level])
        rows = cursor.fetchall()
    return {row[0]: _ratio_stats(row) for row in rows}


def _sum_columns(*, capped: bool) -> str:
    """The calls, then per per-call metric its five ratio sums over users (see `RatioStat`)."""
    columns = ["SUM(calls)"]
    for _, numerator, denominator, *_ in CALL_METRICS.values():
        if capped and numerator in CAPPED:
            numerator = f"LEAST(users.{numerator}, caps.{numerator})"
        columns += [
            f"SUM({numerator})",
            f"SUM({numerator} * {numerator})",
            f"SUM({denominator})",
            f"SUM({denominator} * {denominator})",
            f"SUM({numerator} * {denominator})",
        ]
    return ", ".join(columns)


@dataclass(frozen=True)
class SegmentResult:
    """The per-call metrics within one segment (a request metadata value), with its own SRM check and its
    own correction across its rows."""

    key: str
    value: str
    users: dict[str, int]
    srm_p_value: float | None
    srm_mismatch: bool
    rows: list[MetricRow]


def _segments(experiment, variants: list, design: Design) -> list[SegmentResult]:
    """Results per segment value, the MAX_SEGMENTS values with most users per metadata key."""
    with connection.cursor() as cursor:
        cursor.execute(
            SEGMENT_SUMS.format(columns=_sum_columns(capped=False)), [experiment.id, experiment.phase]
        )
        rows = cursor.fetchall()
    grouped: dict[tuple[str, str], dict[str, dict]] = {}
    for key, value, *rest in rows:
        grouped.setdefault((key, value), {})[rest[0]] = _ratio_stats(rest)
    by_key: dict[str, list] = {}
    for (key, value), arms in grouped.items():
        by_key.setdefault(key, []).append((sum(arm["users"] for arm in arms.values()), value, arms))
    empty = {"users": 0, "calls": 0, **{metric: RatioStat() for metric in CALL_METRICS}}
    out = []
    for key in sorted(by_key):
        for _, value, arms in sorted(by_key[key], key=lambda entry: (-entry[0], entry[1]))[:MAX_SEGMENTS]:
            stats = [arms.get(v.key, empty) for v in variants]
            counts = [arm["users"] for arm in stats]
            srm = sample_ratio_mismatch(counts, [v.weight for v in variants]) if sum(counts) else None
            comparisons = [
                (v.key, _metrics(stats[0], arm, {}, {}))
                for v, arm in zip(variants[1:], stats[1:], strict=True)
            ]
            out.append(
                SegmentResult(
                    key,
                    value,
                    dict(zip((v.key for v in variants), counts, strict=True)),
                    srm.p_value if srm else None,
                    bool(srm and srm.mismatch),
                    compare(comparisons, design),
                )
            )
    return out


def _covariate_sums(experiment_id: int, phase: int) -> dict[str, dict[str, CovariateSums]]:
    """Per variant and per-call metric, the sums of the users' current and pre-exposure values and their
    products (CUPED's inputs; `stats.cuped`)."""
    columns, names = [], [f.name for f in dataclass_fields(CovariateSums)][1:]
    for _, numerator, denominator, *_ in CALL_METRICS.values():
        values = {
            "m": numerator,
            "d": denominator,
            "p": PRE_COLUMNS[numerator],
            "q": PRE_COLUMNS[denominator],
        }
        columns += [f"SUM({' * '.join(values[c] for c in name)}::float8)" for name in names]
    with connection.cursor() as cursor:
        cursor.execute(COVARIATE_SUMS.format(columns=", ".join(columns)), [experiment_id, phase])
        rows = cursor.fetchall()
    out: dict[str, dict[str, CovariateSums]] = {}
    for variant, users, *sums in rows:
        for index, key in enumerate(CALL_METRICS):
            chunk = sums[index * len(names) : (index + 1) * len(names)]
            out.setdefault(variant, {})[key] = CovariateSums(int(users), *(float(v or 0) for v in chunk))
    return out


def _adjusted(metrics: list[MetricInput], control: dict, treatment: dict) -> list[MetricInput]:
    """The per-call metrics regression-adjusted where the users have pre-exposure data (CUPED)."""
    out = []
    for metric in metrics:
        pair = None
        if metric.key in control and metric.key in treatment:
            pair = cuped_adjust(control[metric.key], treatment[metric.key])
        if pair is None:
            out.append(metric)
            continue
        reduction = pair[0].variance_reduction
        out.append(
            dataclasses.replace(metric, control=pair[0], treatment=pair[1], variance_reduction=reduction)
        )
    return out


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


def _quantiles(experiment_id: int, phase: int, alpha: float) -> dict[str, dict[str, QuantileEstimate]]:
    """Per variant, the cluster-robust estimate of each latency and time-to-first-token quantile (see
    `stats.quantile`): the per-user histograms give both the arm's distribution and each user's calls
    below its quantile."""
    with connection.cursor() as cursor:
        cursor.execute(USER_HISTOGRAM, [experiment_id, phase])
        counts: dict[tuple[str, str], dict[int, int]] = {}
        for measure, variant, bucket, count in cursor.fetchall():
            counts.setdefault((measure, variant), {})[bucket] = int(count)
        out: dict[str, dict[str, QuantileEstimate]] = {}
        for (measure, variant), histogram in counts.items():
            for key, _, _, q in (metric for metric in QUANTILE_METRICS if metric[2] == measure):
                point = histogram_quantile(histogram, q, bucket_bounds)
                args = {"experiment": experiment_id, "phase": phase, "variant": variant, "measure": measure}
                cursor.execute(BELOW, {**args, "bucket": point.bucket, "fraction": point.fraction})
                users, *sums = cursor.fetchone()
                below = RatioStat(int(users), *(float(v or 0) for v in sums))
                out.setdefault(variant, {})[key] = quantile_estimate(
                    histogram, q, below, bucket_bounds, alpha=alpha
                )
    return out


def _quantile_inputs(control: dict, treatment: dict) -> list[MetricInput]:
    return [
        MetricInput(key, label, "ms", True, "latency", control[key], treatment[key])
        for key, label, _, _ in QUANTILE_METRICS
        if key in control and key in treatment
    ]


def _design(experiment) -> Design:
    """The experiment's engine and correction (else the settings'), its guardrails and their margins; the
    sequential tuning is the planned sample of a pair of arms, as GrowthBook sets it from the plan."""
    return Design(
        alpha=experiment.alpha,
        engine=experiment.engine or settings.STATS_ENGINE,
        correction=experiment.correction or settings.STATS_CORRECTION,
        tuning=float(2 * experiment.min_sample_per_variant),
        guardrails=frozenset(experiment.guardrail_metrics or []),
        margins=dict(experiment.guardrail_margins or {}),
    )


def _events(control: RatioStat, treatment: RatioStat) -> tuple[int, int, int, int]:
    return (
        round(control.numerator_sum),
        round(control.denominator_sum),
        round(treatment.numerator_sum),
        round(treatment.denominator_sum),
    )


def _metrics(
    control: dict, treatment: dict, control_scores: dict, treatment_scores: dict
) -> list[MetricInput]:
    metrics = [
        MetricInput(
            key,
            label,
            unit,
            lower,
            group,
            control[key],
            treatment[key],
            _events(control[key], treatment[key]) if unit == "rate" else None,
        )
        for key, (label, _, _, lower, group, unit) in CALL_METRICS.items()
    ]
    for scorer in sorted(set(control_scores) & set(treatment_scores)):
        metrics.append(
            MetricInput(
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


def _verdict(
    rows: list[MetricRow], decided: list[Decision], srm_mismatch: bool, progress: float
) -> list[str]:
    lines = []
    for decision in decided:
        mine = [r for r in rows if r.variant == decision.variant]
        headline = [r for r in mine if r.key == "cost" or r.key.startswith("quality:")]
        lines.append("; ".join(_describe(r) for r in headline) + ".")
        failed = [r.label for r in mine if r.guardrail == "fail"]
        if failed:
            lines.append(
                f"{decision.variant} fails its guardrails on {', '.join(failed)}: do not promote it as it is."
            )
        undecided = [r.label for r in mine if r.guardrail == "undecided"]
        if undecided:
            lines.append(
                f"{decision.variant}'s guardrails on {', '.join(undecided)} are undecided: not enough data "
                "to show the change stays within its margin."
            )
    if srm_mismatch:
        lines.append(
            "Sample ratio mismatch (p < 0.001): the split is not what the weights say; fix it first."
        )
    if progress < 1:
        lines.append(f"The sample is {progress:.0%} of the required sample per variant; keep collecting.")
    return lines


def experiment_report(*, experiment) -> ExperimentReport:
    """The report of an experiment's current phase from its roll-ups (see the module docstring)."""
    variants = list(experiment.variants.order_by("position"))
    users = _user_sums(experiment.id, experiment.phase, experiment.capping_percentile)
    scores = _score_sums(experiment.id, experiment.phase)
    percentiles = _percentiles(experiment.id, experiment.phase)
    quantiles = _quantiles(experiment.id, experiment.phase, experiment.alpha)
    covariates = _covariate_sums(experiment.id, experiment.phase) if experiment.cuped else {}
    empty = {"users": 0, "calls": 0, **{key: RatioStat(0, 0, 0, 0, 0, 0) for key in CALL_METRICS}}
    control = variants[0].key
    design = _design(experiment)
    arms = [
        (
            variant.key,
            _adjusted(
                _metrics(
                    users.get(control, empty),
                    users.get(variant.key, empty),
                    scores.get(control, {}),
                    scores.get(variant.key, {}),
                ),
                covariates.get(control, {}),
                covariates.get(variant.key, {}),
            )
            + _quantile_inputs(quantiles.get(control, {}), quantiles.get(variant.key, {})),
        )
        for variant in variants[1:]
    ]
    rows = compare(arms, design)
    counts = [users.get(v.key, empty)["users"] for v in variants]
    srm = sample_ratio_mismatch(counts, [v.weight for v in variants]) if sum(counts) else None
    progress = min(min(counts) / experiment.min_sample_per_variant, 1.0) if counts else 0.0
    mismatch = bool(srm and srm.mismatch)
    decided = decisions(rows, primary=experiment.primary_metric, srm_mismatch=mismatch, progress=progress)
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
        design.engine,
        experiment.alpha,
        experiment.primary_metric,
        summaries,
        srm.p_value if srm else None,
        mismatch,
        experiment.min_sample_per_variant,
        progress,
        rows,
        _verdict(rows, decided, mismatch, progress),
        correction=design.correction,
        decisions=decided,
        segments=_segments(experiment, variants, design),
    )


def report_family_size(route) -> int:
    """How many metrics the report tests per treatment on this route: the per-call metrics, the latency
    quantiles (and the time-to-first-token ones when the route streamed in the last week) and one quality
    metric per scorer the route runs (the plan sizes its correction with it)."""
    try:
        scorers = scoring_settings(route.scoring or None).scorers
    except ScoringConfigError:
        scorers = ()
    streams = Call.objects.filter(
        route=route, ttft_ms__isnull=False, started_at__gte=timezone.now() - timedelta(days=7)
    ).exists()
    quantiles = LATENCY_QUANTILES + (TTFT_QUANTILES if streams else ())
    return len(CALL_METRICS) + len(quantiles) + len(scorers)


def promotion_verdict(experiment, variant_key: str) -> tuple[dict, dict]:
    """The variant's decision in the current report, and the report (the promotion gate's evidence).
    Promoting the control is a ship decision only when no treatment is one."""
    report = experiment_report(experiment=experiment)
    decision = report.decision_of(variant_key)
    if decision is not None:
        verdict = {"state": decision.state, "reasons": list(decision.reasons)}
    else:
        shipping = [d.variant for d in report.decisions if d.state == "ship"]
        reasons = [f"{', '.join(shipping)} should ship instead"] if shipping else []
        verdict = {"state": "no-ship" if shipping else "ship", "reasons": reasons}
    return verdict, report.as_json()
