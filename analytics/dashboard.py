"""Reads for the staff dashboard: a route's recent traffic, budget alerts and an experiment's results.

Route queries are limited to one route and a recent window of whole UTC days (default 14, at most 90),
so PostgreSQL answers them from the call table's (route, started_at) index whatever the table's size.
Days are UTC days, as the live spend counters count them. Results are plain lists of dicts, ready for
the chart builders in analytics/charts.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db import connection
from django.db.models import Avg, CharField, Count, Q, Sum, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, NullIf, TruncDate
from django.utils import timezone

from analytics.models import DailyResult, Score
from analytics.reports import experiment_report
from experiments.models import Experiment
from routing.models import Call, Route

DEFAULT_DAYS = 14
MAX_DAYS = 90
WARNING_SHARE = 0.8
NONE_LABEL = "(none)"
TIER_ORDER = {"cheap": 0, "mid": 1, "premium": 2}
BILLED = (Call.Status.OK, Call.Status.ERROR)  # "decided" calls ran at the client: no cost, no latency

LATENCY_PERCENTILES = """
SELECT (started_at AT TIME ZONE 'UTC')::date AS day,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms)
FROM routing_call
WHERE route_id = %s AND started_at >= %s AND status = 'ok' AND latency_ms IS NOT NULL
GROUP BY 1 ORDER BY 1
"""


def window_start(days: int, now: datetime | None = None) -> datetime:
    """UTC midnight `days - 1` days before today: the window holds `days` whole days, today included."""
    today = (now or timezone.now()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days - 1)


def _clamp_days(days: int) -> int:
    return min(max(int(days), 1), MAX_DAYS)


def _route_calls(route: Route, since: datetime):
    return Call.objects.filter(route=route, started_at__gte=since)


def _day(value: date) -> str:
    return value.isoformat()


def _float(value) -> float:
    return float(value or 0)


def _text(*expressions) -> Coalesce:
    """The first non-null of these, as text; labels missing values with NONE_LABEL when last."""
    return Coalesce(*expressions, output_field=CharField())


def calls_per_model(calls) -> list[dict]:
    """Calls per model per day; a call that never ran a model counts under its decided model."""
    label = _text(NullIf("model_key", Value("")), NullIf("decided_model", Value("")), Value(NONE_LABEL))
    rows = (
        calls.annotate(day=TruncDate("started_at", tzinfo=UTC), label=label)
        .values("day", "label")
        .annotate(calls=Count("id"))
        .order_by("label", "day")
    )
    return [{"day": _day(r["day"]), "model": r["label"], "calls": r["calls"]} for r in rows]


def _cost_groups() -> dict:
    return {
        "model": _text(NullIf("model_key", Value("")), Value(NONE_LABEL)),
        "tier": _text("model__tier", Value(NONE_LABEL)),
        "feature": _text(KeyTextTransform("feature", "metadata"), Value(NONE_LABEL)),
        "day": TruncDate("started_at", tzinfo=UTC),
    }


def cost_per_request(calls, by: str) -> list[dict]:
    """Mean cost per billed request grouped by model, tier, feature (metadata["feature"]) or day."""
    rows = (
        calls.filter(status__in=BILLED)
        .annotate(group=_cost_groups()[by])
        .values("group")
        .annotate(calls=Count("id"), cost=Sum("cost"))
        .order_by("group")
    )
    result = [
        {
            by: _day(r["group"]) if by == "day" else r["group"],
            "calls": r["calls"],
            "cost": _float(r["cost"]),
            "cost_per_request": _float(r["cost"]) / r["calls"],
        }
        for r in rows
    ]
    return sorted(result, key=lambda r: TIER_ORDER.get(r[by], 9)) if by == "tier" else result


def quality_by_tier(route: Route, since: datetime) -> list[dict]:
    """Mean Score.value per model tier and scorer over the route's calls in the window."""
    rows = (
        Score.objects.filter(
            call__route=route, call__started_at__gte=since, status=Score.Status.SCORED, value__isnull=False
        )
        .annotate(tier=_text("call__model__tier", Value(NONE_LABEL)))
        .values("tier", "scorer")
        .annotate(mean=Avg("value"), n=Count("id"))
        .order_by("scorer", "tier")
    )
    rows = [{"tier": r["tier"], "scorer": r["scorer"], "mean": r["mean"], "n": r["n"]} for r in rows]
    return sorted(rows, key=lambda r: (r["scorer"], TIER_ORDER.get(r["tier"], 9)))


def latency_percentiles(route: Route, since: datetime) -> list[dict]:
    """p50, p95 and p99 latency (ms) of successful calls per day, by PostgreSQL's percentile_cont."""
    with connection.cursor() as cursor:
        cursor.execute(LATENCY_PERCENTILES, [route.id, since])
        rows = cursor.fetchall()
    return [{"day": _day(day), "p50": p[0], "p95": p[1], "p99": p[2]} for day, p in rows]


def fallback_rate(calls) -> list[dict]:
    """The share of billed calls that used at least one fallback, per day."""
    rows = (
        calls.filter(status__in=BILLED)
        .annotate(day=TruncDate("started_at", tzinfo=UTC))
        .values("day")
        .annotate(calls=Count("id"), fallbacks=Count("id", filter=Q(fallbacks_used__gt=0)))
        .order_by("day")
    )
    return [
        {
            "day": _day(r["day"]),
            "calls": r["calls"],
            "fallbacks": r["fallbacks"],
            "rate": r["fallbacks"] / r["calls"],
        }
        for r in rows
    ]


def _level(share: float) -> str | None:
    if share >= 1:
        return "over"
    return "warning" if share >= WARNING_SHARE else None


def budget_status(*, route: Route, spent_today: float) -> dict:
    """Today's spend against the route's daily budget, with a level: "over", "warning" or None."""
    budget = None if route.daily_budget_usd is None else float(route.daily_budget_usd)
    if budget is None:
        return {"route": route.name, "spent_today": spent_today, "budget": None, "share": None, "level": None}
    share = spent_today / budget if budget > 0 else (float("inf") if spent_today > 0 else 0.0)
    return {
        "route": route.name,
        "spent_today": spent_today,
        "budget": budget,
        "share": share,
        "level": _level(share),
    }


def route_dashboard(*, route: Route, days: int = DEFAULT_DAYS) -> dict:
    """Everything the route page charts, over the last `days` whole UTC days (1 to 90)."""
    days = _clamp_days(days)
    since = window_start(days)
    calls = _route_calls(route, since)
    spent_today = calls.filter(started_at__gte=window_start(1)).aggregate(s=Sum("cost"))["s"]
    return {
        "days": days,
        "since": since,
        "calls_per_model": calls_per_model(calls),
        "cost": {by: cost_per_request(calls, by) for by in ("model", "tier", "feature", "day")},
        "quality_by_tier": quality_by_tier(route, since),
        "latency": latency_percentiles(route, since),
        "fallback_rate": fallback_rate(calls),
        "budget": budget_status(route=route, spent_today=_float(spent_today)),
    }


def spend_today_by_route(route_ids: list[int]) -> dict[int, dict]:
    """Today's calls and spend of each of these routes."""
    rows = (
        Call.objects.filter(route_id__in=route_ids, started_at__gte=window_start(1))
        .values("route_id")
        .annotate(calls=Count("id"), spend=Sum("cost"))
    )
    return {r["route_id"]: {"calls": r["calls"], "spend": _float(r["spend"])} for r in rows}


def budget_alerts() -> list[dict]:
    """Routes whose spend today reached 80% of their daily budget ("warning") or passed it ("over")."""
    routes = list(Route.objects.filter(daily_budget_usd__isnull=False))
    spend = spend_today_by_route([route.id for route in routes])
    statuses = [budget_status(route=r, spent_today=spend.get(r.id, {}).get("spend", 0.0)) for r in routes]
    alerts = [s for s in statuses if s["level"] is not None]
    return sorted(alerts, key=lambda s: -s["share"])


def spend_per_day(route_ids: list[int], days: int = DEFAULT_DAYS) -> list[dict]:
    """Spend per route per day over the window (one index range scan per route)."""
    rows = (
        Call.objects.filter(route_id__in=route_ids, started_at__gte=window_start(_clamp_days(days)))
        .annotate(day=TruncDate("started_at", tzinfo=UTC))
        .values("route__name", "day")
        .annotate(spend=Sum("cost"))
        .order_by("route__name", "day")
    )
    return [{"day": _day(r["day"]), "route": r["route__name"], "spend": _float(r["spend"])} for r in rows]


def primary_metric_key(report_json: dict, primary: str) -> str | None:
    """The report row key of an experiment's primary metric ("quality" is the first quality scorer)."""
    keys = _ordered_keys(report_json)
    if primary == "quality":
        return next((key for key in keys if key.startswith("quality:")), None)
    return primary if primary in keys else (keys[0] if keys else None)


def _ordered_keys(report_json: dict) -> list[str]:
    return list(dict.fromkeys(row["key"] for row in report_json.get("rows", [])))


def experiment_dashboard(*, experiment) -> dict:
    """The experiment's report now, its daily results in the current phase (today's live report last)."""
    report = experiment_report(experiment=experiment)
    report_json = report.as_json()
    stored = DailyResult.objects.filter(experiment_id=experiment.id, phase=experiment.phase).order_by("day")
    days = [{"day": _day(row.day), "results": row.results} for row in stored]
    today = _day(timezone.now().astimezone(UTC).date())
    if not days or days[-1]["day"] != today:
        days.append({"day": today, "results": report_json})
    metrics = [(row["key"], row["label"]) for row in report_json["rows"]]
    return {
        "report": report,
        "days": days,
        "metrics": list(dict.fromkeys(metrics)),
        "primary_metric": primary_metric_key(report_json, experiment.primary_metric),
    }


def dashboard_overview() -> dict:
    """Budget alerts, each route's calls and spend today, and the running experiments with their reports."""
    routes = list(Route.objects.order_by("name"))
    today = spend_today_by_route([route.id for route in routes])
    running = Experiment.objects.filter(status=Experiment.Status.RUNNING).select_related("route")
    return {
        "alerts": budget_alerts(),
        "routes": [
            {"route": r, **today.get(r.id, {"calls": 0, "spend": 0.0}), **_budget_of(r, today)}
            for r in routes
        ],
        "spend_per_day": spend_per_day([route.id for route in routes]),
        "experiments": [{"experiment": e, "report": experiment_report(experiment=e)} for e in running],
    }


def _budget_of(route: Route, today: dict) -> dict:
    status = budget_status(route=route, spent_today=today.get(route.id, {}).get("spend", 0.0))
    return {"budget": status["budget"], "share": status["share"], "level": status["level"]}
