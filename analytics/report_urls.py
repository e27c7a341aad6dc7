"""Report APIs, included under /api/v1/."""

from django.urls import path

from analytics import report_apis

urlpatterns = [
    path(
        "experiments/<int:experiment_id>/report",
        report_apis.ExperimentReportApi.as_view(),
        name="experiment-report",
    ),
    path(
        "experiments/<int:experiment_id>/report.csv",
        report_apis.ExperimentReportCsvApi.as_view(),
        name="experiment-report-csv",
    ),
    path(
        "experiments/<int:experiment_id>/weekly-reports",
        report_apis.WeeklyReportRunApi.as_view(),
        name="weekly-report-run",
    ),
    path("weekly-reports", report_apis.WeeklyReportListApi.as_view(), name="weekly-report-list"),
    path("calls.csv", report_apis.CallCsvApi.as_view(), name="calls-csv"),
]
