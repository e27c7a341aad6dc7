from django.urls import path

from experiments import views

app_name = "experiments"

urlpatterns = [
    path("", views.experiment_list, name="list"),
    path("new", views.experiment_create, name="create"),
    path("<int:experiment_id>/", views.experiment_detail, name="detail"),
    path("<int:experiment_id>/edit", views.experiment_edit, name="edit"),
    path("<int:experiment_id>/discard", views.experiment_discard, name="discard"),
    path("<int:experiment_id>/exposures.json", views.experiment_exposures, name="exposures"),
    path("<int:experiment_id>/coverage", views.experiment_ramp, name="ramp"),
    path("<int:experiment_id>/promote", views.experiment_promote, name="promote"),
    path("<int:experiment_id>/<str:action>", views.experiment_action, name="action"),
    path("promotions/<int:promotion_id>/rollback", views.promotion_rollback, name="rollback"),
]
