"""Writes around the significance report: daily snapshots for charts, weekly reports (with revisions) and
their email."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists
from django.utils import timezone

from analytics.models import DailyResult, WeeklyReport
from analytics.reports import ExperimentReport, experiment_report
from analytics.rollups import rollups_refresh
from experiments.models import Experiment
from routing.audit import audit_record


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


def _week_reports(experiment_id: int, start: date):
    return WeeklyReport.objects.filter(experiment_id=experiment_id, week_start=start)


def _revision_store(
    *, experiment: Experiment, start: date, report: dict, first_only: bool
) -> tuple[WeeklyReport, bool]:
    """Number and store a report under the experiment's row lock, so concurrent runs never share a revision;
    with `first_only` (the beat job) an existing revision of the week is returned instead."""
    with transaction.atomic():
        Experiment.objects.select_for_update().filter(id=experiment.id).first()
        latest = _week_reports(experiment.id, start).order_by("-revision").first()
        if first_only and latest is not None:
            return latest, False
        weekly = WeeklyReport.objects.create(
            experiment_id=experiment.id,
            experiment_name=experiment.name,
            week_start=start,
            revision=latest.revision + 1 if latest else 1,
            report=report,
        )
        return weekly, True


def weekly_report_build(*, experiment: Experiment, week: date | None = None) -> tuple[WeeklyReport, bool]:
    """This week's report of an experiment, built once: when the week has a revision, its latest is returned,
    so running the job twice does no harm."""
    start = week_start(week or timezone.localdate())
    existing = _week_reports(experiment.id, start).order_by("-revision").first()
    if existing is not None:
        return existing, False
    rollups_refresh()
    report = experiment_report(experiment=experiment).as_json()
    return _revision_store(experiment=experiment, start=start, report=report, first_only=True)


def weekly_report_run_now(*, experiment: Experiment, user) -> WeeklyReport:
    """Run now: refresh the roll-ups and store the report as this week's next revision, then mail it if no
    report of the week has gone out yet."""
    start = week_start(timezone.localdate())
    rollups_refresh()
    report = experiment_report(experiment=experiment).as_json()
    weekly, _ = _revision_store(experiment=experiment, start=start, report=report, first_only=False)
    audit_record(actor=user, action="weekly_report.run", target=weekly, changes={"revision": weekly.revision})
    weekly_report_email(weekly=weekly, experiment=experiment)
    weekly.refresh_from_db()
    return weekly


def weekly_report_list(*, experiment_id: int) -> list[WeeklyReport]:
    """An experiment's weekly reports, newest week and revision first (the report JSON left unloaded)."""
    return list(WeeklyReport.objects.filter(experiment_id=experiment_id).defer("report"))


def weekly_report_days(*, weekly: WeeklyReport) -> list[dict]:
    """The daily results behind a weekly report's chart: its phase's days up to the report's, then the
    report itself as the last point."""
    report = weekly.report
    generated = report.get("generated_at", "")[:10] or weekly.created_at.date().isoformat()
    stored = DailyResult.objects.filter(
        experiment_id=weekly.experiment_id, phase=report.get("phase"), day__lt=generated
    ).order_by("day")
    return [
        *({"day": row.day.isoformat(), "results": row.results} for row in stored),
        {"day": generated, "results": report},
    ]


def _recipients(experiment: Experiment) -> list[str]:
    owner = getattr(experiment.created_by, "email", "")
    return sorted({*settings.REPORT_RECIPIENTS, *([owner] if owner else [])})


def _email_claim(weekly: WeeklyReport, recipients: list[str]) -> bool:
    """Claim the week's one email with a conditional update; locking the week's rows first serialises two
    claims on different revisions, and the second then sees the first's mark."""
    week = _week_reports(weekly.experiment_id, weekly.week_start)
    with transaction.atomic():
        list(week.select_for_update().order_by("id").values_list("id", flat=True))
        claimed = (
            WeeklyReport.objects.filter(id=weekly.id, emailed_at__isnull=True)
            .exclude(Exists(week.filter(emailed_at__isnull=False)))
            .update(emailed_at=timezone.now(), recipients=recipients)
        )
    return claimed == 1


def weekly_report_email(*, weekly: WeeklyReport, experiment: Experiment) -> bool:
    """Send the week's report once: a revision is claimed before the mail goes out, and only while no other
    revision of the week has been mailed."""
    recipients = _recipients(experiment)
    if not recipients or not _email_claim(weekly, recipients):
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
