"""The staff dashboard: overview, a route's traffic charts, an experiment's significance report and its
stored weekly reports.

Plotly's JavaScript comes from the installed plotly package through `plotly_js`, so the pages work
offline; its URL carries plotly's version, so browsers may cache it for a year.
"""

from __future__ import annotations

import gzip
import math
from functools import lru_cache

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST
from plotly.offline import get_plotlyjs

from analytics import charts, dashboard, reporting
from analytics.models import WeeklyReport
from experiments.models import Experiment
from routing.models import Route

YEAR = 365 * 24 * 3600


@lru_cache(maxsize=1)
def _plotly_bundle() -> tuple[bytes, bytes]:
    """plotly.min.js as shipped with the plotly package, plain and gzipped, read once per process."""
    raw = get_plotlyjs().encode()
    return raw, gzip.compress(raw, compresslevel=6, mtime=0)


@require_GET
def plotly_js(request):
    raw, packed = _plotly_bundle()
    zipped = "gzip" in request.headers.get("Accept-Encoding", "")
    response = HttpResponse(packed if zipped else raw, content_type="text/javascript; charset=utf-8")
    if zipped:
        response["Content-Encoding"] = "gzip"
    response["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


def _chart(figure: dict, div_id: str) -> str:
    return mark_safe(charts.figure_html(figure, div_id))  # noqa: S308 - JSON built by charts, escaped


def _bad_request(message: str) -> HttpResponse:
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


@staff_member_required
def overview(request):
    data = dashboard.dashboard_overview()
    experiments = [
        {
            "experiment": item["experiment"],
            "report": item["report"],
            "verdict": item["report"].verdict[0] if item["report"].verdict else "No results yet.",
        }
        for item in data["experiments"]
    ]
    context = {
        **data,
        "experiments": experiments,
        "spend_chart": _chart(charts.spend_by_route_figure(data["spend_per_day"]), "chart-spend"),
    }
    return render(request, "analytics/overview.html", context)


def _days(request) -> int | None:
    raw = request.GET.get("days", str(dashboard.DEFAULT_DAYS))
    if not raw.isdigit() or not 1 <= int(raw) <= dashboard.MAX_DAYS:
        return None
    return int(raw)


def _route_charts(data: dict) -> list[str]:
    cost = data["cost"]
    return [
        _chart(charts.routing_distribution_figure(data["calls_per_model"]), "chart-routing"),
        _chart(charts.cost_breakdown_figure(cost["model"], "model"), "chart-cost-model"),
        _chart(charts.cost_breakdown_figure(cost["tier"], "tier"), "chart-cost-tier"),
        _chart(charts.cost_breakdown_figure(cost["feature"], "feature"), "chart-cost-feature"),
        _chart(charts.cost_breakdown_figure(cost["day"], "day"), "chart-cost-day"),
        _chart(charts.quality_by_tier_figure(data["quality_by_tier"]), "chart-quality-tier"),
        _chart(charts.latency_percentiles_figure(data["latency"]), "chart-latency"),
        _chart(charts.fallback_rate_figure(data["fallback_rate"]), "chart-fallback"),
    ]


@staff_member_required
def route_detail(request, route_name: str):
    route = get_object_or_404(Route, name=route_name)
    days = _days(request)
    if days is None:
        return _bad_request(f"days: give a whole number of days from 1 to {dashboard.MAX_DAYS}.")
    data = dashboard.route_dashboard(route=route, days=days)
    context = {"route": route, "data": data, "budget": data["budget"], "charts": _route_charts(data)}
    return render(request, "analytics/route.html", context)


# -- the metric table -------------------------------------------------------------------------------------


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _value(value, unit: str, signed: bool = False) -> str:
    if not _finite(value):
        return "n/a"
    sign = "+" if signed else ""
    if unit == "usd":
        return f"{'-' if value < 0 else sign if value else ''}${abs(value):.5f}"
    if unit == "ms":
        return f"{value:{sign},.0f} ms"
    if unit == "rate":
        return f"{value * 100:{sign}.2f} pp" if signed else f"{value:.2%}"
    return f"{value:{sign}.3f}"


def _interval(effect: dict, fmt) -> dict:
    return {"estimate": fmt(effect["estimate"]), "ci": f"[{fmt(effect['ci_low'])}, {fmt(effect['ci_high'])}]"}


def _percent(value) -> str:
    return f"{value:+.1%}" if _finite(value) else "n/a"


def _p(value) -> str:
    return f"{value:.4f}" if _finite(value) else "n/a"


def metric_rows(report: dict) -> list[dict]:
    """The report's rows (`ExperimentReport.as_json()`, live or stored) as the table shows them: values in
    their units, deltas with their intervals."""
    return rows_shown(report["rows"])


def segment_tables(report: dict) -> list[dict]:
    """Per segment: its users per variant, its own SRM check, and its rows as the table shows them."""
    return [
        {
            "key": segment["key"],
            "value": segment["value"],
            "users": ", ".join(f"{variant} {count}" for variant, count in segment["users"].items()),
            "srm": _p(segment["srm_p_value"]) if segment["srm_p_value"] is not None else "n/a",
            "srm_mismatch": segment["srm_mismatch"],
            "rows": rows_shown(segment["rows"]),
        }
        for segment in report.get("segments", [])
    ]


def rows_shown(rows: list[dict]) -> list[dict]:
    return [_row_shown(row) for row in rows]


def _row_shown(row: dict) -> dict:
    unit = row["unit"]
    reduction, chance, risk = row.get("variance_reduction"), row.get("chance_to_win"), row.get("risk")
    return {
        "key": row["key"],
        "label": row["label"],
        "variant": row["variant"],
        "control": _value(row["control"], unit),
        "treatment": _value(row["treatment"], unit),
        "absolute": _interval(row["absolute"], lambda v: _value(v, unit, signed=True)),
        "relative": _interval(row["relative"], _percent),
        "p_adjusted": _p(row["p_adjusted"]),
        "significant": row["significant"],
        "direction": row["direction"],
        "guardrail": row["guardrail"],
        "margin": _percent(row["margin"]) if row.get("margin") else "",
        "test": row.get("test", "welch"),
        "cuped": f"CUPED: {reduction:.0%} less variance" if reduction else "",
        "chance_to_win": f"{chance:.1%}" if chance is not None else "",
        "risk": ", ".join(f"{value:.3g}" if _finite(value) else "n/a" for value in risk) if risk else "",
    }


@staff_member_required
def experiment_detail(request, experiment_id: int):
    experiment = get_object_or_404(Experiment.objects.select_related("route"), id=experiment_id)
    data = dashboard.experiment_dashboard(experiment=experiment)
    keys = [key for key, _ in data["metrics"]]
    metric = request.GET.get("metric") or data["primary_metric"]
    if metric is not None and keys and metric not in keys:
        return _bad_request(f"metric: unknown metric {metric!r}; choose one of {', '.join(keys)}.")
    report = data["report"]
    report_json = report.as_json()
    context = {
        "experiment": experiment,
        "report": report,
        "rows": metric_rows(report_json),
        "segments": segment_tables(report_json),
        "metrics": data["metrics"],
        "metric": metric,
        "smallest_variant": min((v.users for v in report.variants), default=0),
        "progress_percent": round(report.progress * 100),
        "chart": _chart(charts.cumulative_delta_figure(data["days"], metric or ""), "chart-cumulative"),
    }
    return render(request, "analytics/experiment.html", context)


# -- weekly reports ------------------------------------------------------------------------------------------


@staff_member_required
def weekly_list(request, experiment_id: int):
    experiment = get_object_or_404(Experiment, id=experiment_id)
    context = {"experiment": experiment, "reports": reporting.weekly_report_list(experiment_id=experiment.id)}
    return render(request, "analytics/weekly_list.html", context)


@staff_member_required
def weekly_detail(request, report_id: int):
    weekly = get_object_or_404(WeeklyReport, id=report_id)
    report = weekly.report
    metric = dashboard.primary_metric_key(report, report.get("primary_metric", ""))
    days = reporting.weekly_report_days(weekly=weekly)
    context = {
        "weekly": weekly,
        "experiment": Experiment.objects.filter(id=weekly.experiment_id).first(),
        "report": report,
        "rows": metric_rows(report),
        "segments": segment_tables(report),
        "chart": _chart(charts.cumulative_delta_figure(days, metric or ""), "chart-cumulative"),
    }
    return render(request, "analytics/weekly_detail.html", context)


@staff_member_required
@permission_required("analytics.add_weeklyreport", raise_exception=True)
@require_POST
def weekly_run(request, experiment_id: int):
    experiment = get_object_or_404(Experiment.objects.select_related("created_by"), id=experiment_id)
    weekly = reporting.weekly_report_run_now(experiment=experiment, user=request.user)
    mailed = f" and mailed to {', '.join(weekly.recipients)}" if weekly.emailed_at else ""
    messages.success(
        request, f"Revision {weekly.revision} of the week of {weekly.week_start:%Y-%m-%d} built{mailed}."
    )
    return redirect("dashboard:weekly-detail", report_id=weekly.id)
