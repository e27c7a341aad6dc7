"""Writes around the significance report: daily snapshots for charts, weekly reports and their email."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from analytics.models import DailyResult, WeeklyReport
from analytics.reports import ExperimentReport, experiment_report
from analytics.rollups import rollups_refresh
from experiments.models import Experiment


def running_experiments():
    return Experiment.objects.filter(status=Experiment.Status.RUNNING).select_related("route", "created_by")


def analytics_refresh() -> dict:
    """Fold new calls and scores, then store today's report of every running experiment (for the charts)."""
    folded = rollups_refresh()
    today = timezone.localdate()
    for experiment in running_experiments():
        report = experiment_report(experiment=experiment)
        DailyResult.objects.update_or_create(
            experiment_id=experiment.id,
            phase=experiment.phase,
            day=today,
            defaults={"results": report.as_json()},
        )
    return folded


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_report_build(*, experiment: Experiment, week: date | None = None) -> tuple[WeeklyReport, bool]:
    """This week's report of an experiment; built once, so running the job twice does no harm."""
    start = week_start(week or timezone.localdate())
    existing = WeeklyReport.objects.filter(experiment_id=experiment.id, week_start=start).first()
    if existing is not None:
        return existing, False
    rollups_refresh()
    report = experiment_report(experiment=experiment)
    weekly, created = WeeklyReport.objects.get_or_create(
        experiment_id=experiment.id,
        week_start=start,
        defaults={"experiment_name": experiment.name, "report": report.as_json()},
    )
    return weekly, created


def _recipients(experiment: Experiment) -> list[str]:
    owner = getattr(experiment.created_by, "email", "")
    return sorted({*settings.REPORT_RECIPIENTS, *([owner] if owner else [])})


def weekly_report_email(*, weekly: WeeklyReport, experiment: Experiment) -> bool:
    """Send the report once: the row is claimed with a conditional update before the mail goes out."""
    recipients = _recipients(experiment)
    if not recipients:
        return False
    claimed = WeeklyReport.objects.filter(id=weekly.id, emailed_at__isnull=True).update(
        emailed_at=timezone.now(), recipients=recipients
    )
    if not claimed:
        return False
    subject = f"[routelab] {weekly.experiment_name}: week of {weekly.week_start:%Y-%m-%d}"
    send_mail(subject, report_text(weekly.report), settings.DEFAULT_FROM_EMAIL, recipients)
    return True


def weekly_reports_run() -> list[WeeklyReport]:
    """The beat job: a report for every running experiment, each built and mailed at most once a week."""
    reports = []
    for experiment in running_experiments():
        weekly, _ = weekly_report_build(experiment=experiment)
        weekly_report_email(weekly=weekly, experiment=experiment)
        reports.append(weekly)
    return reports


def _fmt(value, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "usd":
        return f"${value:.6f}"
    if unit in {"rate", "score"}:
        return f"{value:.4f}"
    return f"{value:.1f}"


def report_text(report: dict) -> str:
    """A report as plain text: the verdict, then one line per metric."""
    lines = [
        f"{report['experiment']} on {report['route']} (phase {report['phase']}, {report['engine']} engine)",
        "",
    ]
    lines += [*report["verdict"], ""]
    for v in report["variants"]:
        lines.append(f"  {v['key']}: {v['users']} users, {v['calls']} calls")
    lines.append("")
    for row in report["rows"]:
        rel = row["relative"]
        ci = (
            "n/a" if rel["ci_low"] is None else f"[{rel['ci_low'] * 100:+.1f}%, {rel['ci_high'] * 100:+.1f}%]"
        )
        estimate = "n/a" if rel["estimate"] is None else f"{rel['estimate'] * 100:+.1f}%"
        flag = "significant" if row["significant"] else "not significant"
        lines.append(
            f"  {row['variant']:<10} {row['label']:<28} {_fmt(row['control'], row['unit']):>12} -> "
            f"{_fmt(row['treatment'], row['unit']):>12}  {estimate} {ci}  p={row['p_adjusted']:.4f} {flag}"
        )
    return "\n".join(lines)


REPORT_COLUMNS = [
    "variant",
    "metric",
    "unit",
    "control",
    "treatment",
    "absolute_delta",
    "absolute_ci_low",
    "absolute_ci_high",
    "relative_delta",
    "relative_ci_low",
    "relative_ci_high",
    "p_value",
    "p_adjusted",
    "significant",
    "direction",
    "guardrail",
]


def report_csv(report: ExperimentReport | dict) -> str:
    data = report.as_json() if isinstance(report, ExperimentReport) else report
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    for row in data["rows"]:
        a, r = row["absolute"], row["relative"]
        writer.writerow(
            [
                row["variant"],
                row["key"],
                row["unit"],
                row["control"],
                row["treatment"],
                a["estimate"],
                a["ci_low"],
                a["ci_high"],
                r["estimate"],
                r["ci_low"],
                r["ci_high"],
                a["p_value"],
                row["p_adjusted"],
                row["significant"],
                row["direction"] or "",
                row["guardrail"] or "",
            ]
        )
    return out.getvalue()
