from django.urls import path

from routing import apis

urlpatterns = [
    path("providers", apis.ProviderListCreateApi.as_view(), name="provider-list"),
    path("providers/<int:provider_id>", apis.ProviderDetailApi.as_view(), name="provider-detail"),
    path("models", apis.ModelListCreateApi.as_view(), name="model-list"),
    path("models/<int:model_id>", apis.ModelDetailApi.as_view(), name="model-detail"),
]
