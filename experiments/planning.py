"""Planning an experiment: the traffic split, the sample each arm needs and a runtime estimate.

The sample is sized for the report's own test (see `experiments.power.engine_sample_size`): the engine
the experiment will use, the correction across every treatment and every metric the report tests, and
the per-user variance of the metric, since users are the unit the report analyses (a per-call metric is
a ratio over users, and calls of one user are not independent). The baseline is the route's recent
history grouped by user; traffic rates divide by the days the route has actually been live in the
window, so a one-day-old route is not averaged over seven days.

How many metrics the report tests is the report's business (analytics): it registers
`register_family_size` at start-up, so this module never imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from experiments.power import engine_sample_size, ratio_per_user, runtime_days, sample_size_proportion
from routing.models import Call, Route

BASELINE_DAYS = 7
MIN_BASELINE_USERS = 20
METRIC_COLUMNS = {"cost": "cost", "latency": "latency_ms"}

_family_size: Callable[[Route], int] = lambda route: 1  # noqa: E731 - replaced by analytics at start-up


def register_family_size(count: Callable[[Route], int]) -> None:
    """How many metrics the report tests per treatment on a route (analytics registers it)."""
    global _family_size
    _family_size = count


@dataclass(frozen=True)
class Plan:
    split: list[dict]
    daily_traffic: float
    baseline: float | None
    sample_per_variant: int | None
    runtime_days: float | None
    note: str
    daily_users: float = 0.0
    user_sd: float | None = None
    comparisons: int = 1
    engine: str = "sequential"


def _window(route: Route):
    since = timezone.now() - timezone.timedelta(days=BASELINE_DAYS)
    return Call.objects.filter(route=route, started_at__gte=since).exclude(status="decided")


def _days_live(calls) -> float:
    """Days from the window's first call to now, at least one hour's worth, at most the window."""
    first = calls.aggregate(first=Min("started_at"))["first"]
    if first is None:
        return float(BASELINE_DAYS)
    days = (timezone.now() - first).total_seconds() / 86400
    return min(float(BASELINE_DAYS), max(days, 1 / 24))


def _user_ratio(calls, column: str) -> tuple[float, float, int] | None:
    """The per-call mean of `column` and the per-user delta-method s.d. of that ratio, over users."""
    counted = calls if column == "cost" else calls.filter(status="ok")  # as the report's denominators
    per_user = (
        counted.exclude(user_hash="")
        .values("user_hash")
        .annotate(total=Sum(column), n=Count("id"))
        .values_list("total", "n")
    )
    pairs = [(float(total or 0), float(n)) for total, n in per_user]
    if len(pairs) < MIN_BASELINE_USERS:
        return None
    return (*ratio_per_user(pairs), len(pairs))


def _sample_size(route: Route, metric: str, mde: float, alpha: float, comparisons: int, engine: str) -> tuple:
    """(baseline, per-user s.d., users per arm) for `metric`, or a None size when there is no history."""
    calls = _window(route)
    if metric == "error_rate":
        row = calls.aggregate(n=Count("id"), errors=Count("id", filter=Q(status="error")))
        rate = max(row["errors"] / row["n"], 0.001) if row["n"] else 0.02
        return (
            rate,
            None,
            sample_size_proportion(p1=rate, p2=rate * (1 + mde), alpha=alpha, comparisons=comparisons),
        )
    if metric not in METRIC_COLUMNS:  # quality scores: a 0-1 score with the s.d. of a fair coin, at worst
        size = engine_sample_size(
            sd=0.5, delta=0.5 * mde, engine=engine, alpha=alpha, comparisons=comparisons
        )
        return None, 0.5, size
    baseline = _user_ratio(calls, METRIC_COLUMNS[metric])
    if baseline is None or not baseline[0] or not baseline[1]:
        return None, None, None
    mean, sd, _ = baseline
    size = engine_sample_size(
        sd=sd,
        delta=mde * mean,
        engine=engine,
        alpha=alpha,
        comparisons=comparisons,
        treatment_sd=sd * (1 + mde),
    )  # a relative lift of a cost or a latency scales its spread as well as its mean
    return mean, sd, size


def experiment_plan(
    *,
    route: Route,
    weights: list[float],
    keys: list[str],
    coverage: float,
    metric: str,
    mde: float,
    alpha: float,
    min_sample: int = 1,
    engine: str = "",
) -> Plan:
    """Who gets what, the users each arm needs to detect `mde` on `metric` as the report will test it,
    and how long the smallest arm takes to collect them at the route's recent rate of new users."""
    engine = engine or settings.STATS_ENGINE
    calls = _window(route)
    days = _days_live(calls)
    daily = calls.count() / days
    daily_users = calls.exclude(user_hash="").values("user_hash").distinct().count() / days
    split = [{"variant": k, "share": coverage * w} for k, w in zip(keys, weights, strict=True)]
    split.append({"variant": "outside (live policy)", "share": 1 - coverage})
    comparisons = max(len(weights) - 1, 1) * max(_family_size(route), 1)
    baseline, sd, needed = _sample_size(route, metric, mde, alpha, comparisons, engine)
    common = {"daily_users": daily_users, "user_sd": sd, "comparisons": comparisons, "engine": engine}
    if needed is None:
        note = (
            f"Not enough recent {metric} data on {route.name} (at least {MIN_BASELINE_USERS} users) to "
            "plan from."
        )
        return Plan(split, daily, baseline, None, None, note, **common)
    needed = max(needed, min_sample)
    # The smallest arm sets the pace: scale by its weight rather than assuming equal arms.
    runtime = runtime_days(
        n_per_variant=needed, variants=1, daily_traffic=daily_users * min(weights), coverage=coverage
    )
    note = "" if runtime is not None else f"{route.name} had no traffic in the last {BASELINE_DAYS} days."
    return Plan(split, daily, baseline, needed, runtime, note, **common)
