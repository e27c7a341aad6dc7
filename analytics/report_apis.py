"""Reports over the REST API (staff): the significance report as JSON or CSV, weekly reports, call exports."""

from __future__ import annotations

import csv
from datetime import datetime

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.models import WeeklyReport
from analytics.reporting import report_csv, weekly_report_run_now
from analytics.reports import experiment_report
from experiments.models import Experiment
from routing.models import Call

CALL_COLUMNS = [
    "id",
    "started_at",
    "route_id",
    "policy_version_id",
    "experiment_id",
    "variant",
    "phase",
    "source",
    "status",
    "error_kind",
    "model_key",
    "decided_model",
    "input_tokens",
    "output_tokens",
    "cost",
    "latency_ms",
    "ttft_ms",
    "fallbacks_used",
    "escalations",
    "user_hash",
]


class WeeklyReportSerializer(serializers.ModelSerializer):
    class Meta:
        model = WeeklyReport
        fields = [
            "id",
            "experiment_id",
            "experiment_name",
            "week_start",
            "revision",
            "report",
            "created_at",
            "emailed_at",
            "recipients",
        ]


class ExperimentReportApi(APIView):
    @extend_schema(
        responses={200: dict}, description="The significance report of the experiment's current phase."
    )
    def get(self, request, experiment_id: int):
        experiment = get_object_or_404(Experiment.objects.select_related("route"), id=experiment_id)
        return Response(experiment_report(experiment=experiment).as_json())


class ExperimentReportCsvApi(APIView):
    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request, experiment_id: int):
        experiment = get_object_or_404(Experiment.objects.select_related("route"), id=experiment_id)
        response = HttpResponse(report_csv(experiment_report(experiment=experiment)), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{experiment.name}-report.csv"'
        return response


class WeeklyReportRunApi(APIView):
    """Run now: build this week's next revision of the report; the week's first run mails the recipients."""

    @extend_schema(request=None, responses={201: WeeklyReportSerializer})
    def post(self, request, experiment_id: int):
        experiment = get_object_or_404(
            Experiment.objects.select_related("route", "created_by"), id=experiment_id
        )
        weekly = weekly_report_run_now(experiment=experiment, user=request.user)
        return Response(WeeklyReportSerializer(weekly).data, status=status.HTTP_201_CREATED)


class WeeklyReportListApi(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("experiment", int)], responses=WeeklyReportSerializer(many=True)
    )
    def get(self, request):
        reports = WeeklyReport.objects.all()
        if experiment := request.query_params.get("experiment"):
            if not experiment.isdigit():
                raise ValidationError({"experiment": "Must be an experiment id."})
            reports = reports.filter(experiment_id=int(experiment))
        return Response(WeeklyReportSerializer(reports[:200], many=True).data)


def _window(params) -> dict:
    filters = {}
    for name, lookup in (("since", "started_at__gte"), ("until", "started_at__lt")):
        if value := params.get(name):
            parsed = parse_datetime(value)
            if parsed is None:
                raise ValidationError({name: "Use an ISO 8601 date and time, e.g. 2026-11-01T00:00:00Z."})
            filters[lookup] = parsed
    for name in ("route", "experiment"):
        if value := params.get(name):
            filters["route__name" if name == "route" else "experiment_id"] = value
    if "experiment_id" in filters and not str(filters["experiment_id"]).isdigit():
        raise ValidationError({"experiment": "Must be an experiment id."})
    return filters


class _Echo:
    def write(self, value):
        return value


def _csv_value(value):
    return value.isoformat() if isinstance(value, datetime) else value


class CallCsvApi(APIView):
    """Calls as CSV, streamed: filter by route, experiment and a started_at window (since, until)."""

    @extend_schema(
        parameters=[OpenApiParameter(n, str) for n in ("route", "experiment", "since", "until")],
        responses={(200, "text/csv"): str},
    )
    def get(self, request):
        calls = (
            Call.objects.filter(**_window(request.query_params))
            .order_by("started_at")
            .values_list(*CALL_COLUMNS)
        )
        writer = csv.writer(_Echo())
        rows = (writer.writerow([_csv_value(v) for v in row]) for row in calls.iterator(chunk_size=2000))
        header = iter([writer.writerow(CALL_COLUMNS)])
        response = StreamingHttpResponse(
            (line for part in (header, rows) for line in part), content_type="text/csv"
        )
        response["Content-Disposition"] = 'attachment; filename="calls.csv"'
        return response
