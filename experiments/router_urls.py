"""Learned routers in the web UI, included under /routers/."""

from django.urls import path

from experiments import router_views as views

app_name = "routers"

urlpatterns = [
    path("", views.router_list, name="list"),
    path("train", views.training_create, name="train"),
    path("trainings/<int:training_id>/", views.training_detail, name="training"),
    path("trainings/<int:training_id>/progress.json", views.training_progress, name="training-progress"),
    path("<int:router_id>/", views.router_detail, name="detail"),
]
