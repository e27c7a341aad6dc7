from django.urls import path

from routing import registry_views

app_name = "registry"

urlpatterns = [
    path("", registry_views.provider_list, name="provider-list"),
    path("providers/new/", registry_views.provider_create, name="provider-create"),
    path("providers/<int:provider_id>/", registry_views.provider_edit, name="provider-edit"),
    path("providers/<int:provider_id>/enabled/", registry_views.provider_enabled, name="provider-enabled"),
    path("models/new/", registry_views.model_create, name="model-create"),
    path("models/<int:model_id>/", registry_views.model_edit, name="model-edit"),
    path("models/<int:model_id>/enabled/", registry_views.model_enabled, name="model-enabled"),
]
