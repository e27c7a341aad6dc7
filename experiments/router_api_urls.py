"""The learned routers REST API, included under /api/v1/."""

from django.urls import path

from experiments import router_apis as apis

urlpatterns = [
    path("routers", apis.RouterListApi.as_view(), name="router-list"),
    path("routers/trainings", apis.TrainingListCreateApi.as_view(), name="router-training-list"),
    path(
        "routers/trainings/<int:training_id>", apis.TrainingDetailApi.as_view(), name="router-training-detail"
    ),
    path("routers/<str:ref>", apis.RouterDetailApi.as_view(), name="router-detail"),
]
