"""The experiments REST API, included under /api/v1/."""

from django.urls import path

from experiments import apis

urlpatterns = [
    path("experiments", apis.ExperimentListCreateApi.as_view(), name="experiment-list"),
    path("experiments/<int:experiment_id>", apis.ExperimentDetailApi.as_view(), name="experiment-detail"),
    path("experiments/<int:experiment_id>/start", apis.ExperimentStartApi.as_view(), name="experiment-start"),
    path("experiments/<int:experiment_id>/pause", apis.ExperimentPauseApi.as_view(), name="experiment-pause"),
    path(
        "experiments/<int:experiment_id>/resume",
        apis.ExperimentResumeApi.as_view(),
        name="experiment-resume",
    ),
    path("experiments/<int:experiment_id>/stop", apis.ExperimentStopApi.as_view(), name="experiment-stop"),
    path(
        "experiments/<int:experiment_id>/coverage",
        apis.ExperimentCoverageApi.as_view(),
        name="experiment-coverage",
    ),
    path(
        "experiments/<int:experiment_id>/weights",
        apis.ExperimentWeightsApi.as_view(),
        name="experiment-weights",
    ),
    path(
        "experiments/<int:experiment_id>/promote",
        apis.ExperimentPromoteApi.as_view(),
        name="experiment-promote",
    ),
    path(
        "experiments/<int:experiment_id>/exposures",
        apis.ExperimentExposuresApi.as_view(),
        name="experiment-exposures",
    ),
    path(
        "promotions/<int:promotion_id>/rollback",
        apis.PromotionRollbackApi.as_view(),
        name="promotion-rollback",
    ),
]
