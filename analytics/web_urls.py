import plotly
from django.urls import path

from analytics import views

app_name = "dashboard"

urlpatterns = [
    path("", views.overview, name="overview"),
    # the version in the path lets browsers keep the file for a year and still get a new one on upgrade
    path(f"plotly-{plotly.__version__}.min.js", views.plotly_js, name="plotly-js"),
    path("routes/<slug:route_name>/", views.route_detail, name="route"),
    path("experiments/<int:experiment_id>/", views.experiment_detail, name="experiment"),
    path("experiments/<int:experiment_id>/weekly/", views.weekly_list, name="weekly-list"),
    path("experiments/<int:experiment_id>/weekly/run/", views.weekly_run, name="weekly-run"),
    path("weekly/<int:report_id>/", views.weekly_detail, name="weekly-detail"),
]
