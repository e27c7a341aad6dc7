"""Weekly reports (built and mailed once a week), daily snapshots, and CSV exports."""

import csv
import io

import pytest
from django.core import mail

from analytics.models import DailyResult, WeeklyReport
from analytics.reporting import analytics_refresh, report_text, weekly_reports_run

pytestmark = pytest.mark.django_db


def test_the_weekly_job_builds_and_mails_one_report_per_running_experiment(with_traffic):
    reports = weekly_reports_run()
    assert len(reports) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["team@example.com"]
    assert "complexity-vs-premium" in message.subject
    assert "treatment cuts cost per call by" in message.body


def test_running_the_weekly_job_twice_does_no_harm(with_traffic):
    weekly_reports_run()
    weekly_reports_run()
    assert WeeklyReport.objects.count() == 1
    assert len(mail.outbox) == 1


def test_the_refresh_stores_todays_results_for_the_charts(with_traffic):
    analytics_refresh()
    analytics_refresh()
    daily = DailyResult.objects.get()
    assert daily.experiment_id == with_traffic.id
    assert {row["key"] for row in daily.results["rows"]} >= {"cost", "quality:recorded_quality"}


def test_run_now_and_the_report_apis(staff_api, with_traffic):
    response = staff_api.post(f"/api/v1/experiments/{with_traffic.id}/weekly-reports")
    assert response.status_code == 201 and response.json()["revision"] == 1
    again = staff_api.post(f"/api/v1/experiments/{with_traffic.id}/weekly-reports")
    assert again.status_code == 201 and again.json()["revision"] == 2
    listed = staff_api.get(f"/api/v1/weekly-reports?experiment={with_traffic.id}").json()
    assert [row["revision"] for row in listed] == [2, 1]
    assert listed[1]["emailed_at"] and not listed[0]["emailed_at"] and len(mail.outbox) == 1
    report = staff_api.get(f"/api/v1/experiments/{with_traffic.id}/report").json()
    assert report["experiment"] == "complexity-vs-premium" and report["verdict"]
    assert staff_api.get("/api/v1/weekly-reports?experiment=abc").status_code == 400


def test_the_report_exports_as_csv(staff_api, with_traffic):
    analytics_refresh()
    response = staff_api.get(f"/api/v1/experiments/{with_traffic.id}/report.csv")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    cost = next(row for row in rows if row["metric"] == "cost")
    assert cost["variant"] == "treatment" and cost["significant"] == "True"
    assert float(cost["relative_delta"]) < -0.5


def test_calls_export_as_csv_filtered_by_route_and_window(staff_api, with_traffic):
    response = staff_api.get("/api/v1/calls.csv?route=support-bot&since=2000-01-01T00:00:00Z")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 600
    assert {"cost", "model_key", "variant"} <= set(rows[0])
    assert staff_api.get("/api/v1/calls.csv?since=yesterday").status_code == 400


def test_the_text_report_reads_as_a_summary(with_traffic):
    analytics_refresh()
    text = report_text(DailyResult.objects.get().results)
    assert "control:" in text and "treatment:" in text
    assert "cost per call" in text and "significant" in text
