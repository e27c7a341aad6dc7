"""The offline evaluations REST API, included under /api/v1/."""

from django.urls import path

from experiments import evaluation_apis as apis

urlpatterns = [
    path("evaluations", apis.EvaluationListCreateApi.as_view(), name="evaluation-list"),
    path("evaluations/<int:evaluation_id>", apis.EvaluationDetailApi.as_view(), name="evaluation-detail"),
]
