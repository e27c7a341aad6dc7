"""The offline evaluations web UI, included under /evaluations/."""

from django.urls import path

from experiments import evaluation_views as views

app_name = "evaluations"

urlpatterns = [
    path("", views.evaluation_list, name="list"),
    path("new", views.evaluation_create, name="create"),
    path("plotly.js", views.plotly_js, name="plotly-js"),
    path("<int:evaluation_id>/", views.evaluation_detail, name="detail"),
    path("<int:evaluation_id>/progress.json", views.evaluation_progress, name="progress"),
    path("<int:evaluation_id>/results.csv", views.evaluation_results_csv, name="results-csv"),
    path("<int:evaluation_id>/decisions.csv", views.evaluation_decisions_csv, name="decisions-csv"),
    path("<int:evaluation_id>/attach", views.evaluation_attach, name="attach"),
    path("<int:evaluation_id>/operating-point", views.evaluation_operating_point, name="operating-point"),
]
