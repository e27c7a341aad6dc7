"""Planning an experiment: the traffic split and a runtime estimate from a power calculation."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Avg, Count, Q, StdDev
from django.utils import timezone

from experiments.power import runtime_days, sample_size_mean, sample_size_proportion
from routing.models import Call, Route

BASELINE_DAYS = 7
METRIC_COLUMNS = {"cost": "cost", "latency": "latency_ms"}


@dataclass(frozen=True)
class Plan:
    split: list[dict]
    daily_traffic: float
    baseline: float | None
    sample_per_variant: int | None
    runtime_days: float | None
    note: str


def _recent(route: Route):
    since = timezone.now() - timezone.timedelta(days=BASELINE_DAYS)
    return Call.objects.filter(route=route, started_at__gte=since).exclude(status="decided")


def _sample_size(route: Route, metric: str, mde: float, alpha: float, comparisons: int) -> tuple:
    calls = _recent(route)
    if metric == "error_rate":
        row = calls.aggregate(n=Count("id"), errors=Count("id", filter=Q(status="error")))
        rate = max(row["errors"] / row["n"], 0.001) if row["n"] else 0.02
        return rate, sample_size_proportion(
            p1=rate, p2=rate * (1 + mde), alpha=alpha, comparisons=comparisons
        )
    if metric not in METRIC_COLUMNS:  # quality scores: a 0-1 score with the s.d. of a fair coin, at worst
        return None, sample_size_mean(sd=0.5, delta=0.5 * mde, alpha=alpha, comparisons=comparisons)
    row = calls.filter(status="ok").aggregate(
        mean=Avg(METRIC_COLUMNS[metric]), sd=StdDev(METRIC_COLUMNS[metric])
    )
    if not row["mean"] or not row["sd"]:
        return None, None
    mean, sd = float(row["mean"]), float(row["sd"])
    return mean, sample_size_mean(sd=sd, delta=mde * mean, alpha=alpha, comparisons=comparisons)


def experiment_plan(
    *,
    route: Route,
    weights: list[float],
    keys: list[str],
    coverage: float,
    metric: str,
    mde: float,
    alpha: float,
    min_sample: int,
) -> Plan:
    """Who gets what, and how long until each variant has enough users to detect `mde` on `metric`."""
    daily = _recent(route).count() / BASELINE_DAYS
    split = [{"variant": k, "share": coverage * w} for k, w in zip(keys, weights, strict=True)]
    split.append({"variant": "outside (live policy)", "share": 1 - coverage})
    baseline, needed = _sample_size(route, metric, mde, alpha, comparisons=max(len(weights) - 1, 1))
    if needed is None:
        return Plan(
            split, daily, baseline, None, None, f"No recent {metric} data on {route.name} to plan from."
        )
    needed = max(needed, min_sample)
    # The smallest arm sets the pace: scale by its weight rather than assuming equal arms.
    days = runtime_days(
        n_per_variant=needed, variants=1, daily_traffic=daily * min(weights), coverage=coverage
    )
    note = "" if days is not None else f"{route.name} had no traffic in the last {BASELINE_DAYS} days."
    return Plan(split, daily, baseline, needed, days, note)
