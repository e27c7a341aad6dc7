from django.urls import path

from routing.apis import decisions, registry, routes

urlpatterns = [
    path("route", decisions.route_decision, name="route-decision"),
    path("jobs/<uuid:job_id>", decisions.job_status, name="job-status"),
    path("providers", registry.ProviderListCreateApi.as_view(), name="provider-list"),
    path("providers/<int:provider_id>", registry.ProviderDetailApi.as_view(), name="provider-detail"),
    path("models", registry.ModelListCreateApi.as_view(), name="model-list"),
    path("models/<int:model_id>", registry.ModelDetailApi.as_view(), name="model-detail"),
    path("routes", routes.RouteListCreateApi.as_view(), name="route-list"),
    path("routes/<slug:route_name>", routes.RouteDetailApi.as_view(), name="route-detail"),
    path(
        "routes/<slug:route_name>/live-policy", routes.RouteLivePolicyApi.as_view(), name="route-live-policy"
    ),
    path("routes/<slug:route_name>/policies", routes.PolicyListCreateApi.as_view(), name="policy-list"),
    path(
        "routes/<slug:route_name>/policies/<slug:policy_name>/versions",
        routes.PolicyPublishApi.as_view(),
        name="policy-publish",
    ),
    path("keys", routes.ApiKeyListCreateApi.as_view(), name="apikey-list"),
    path("keys/<int:key_id>", routes.ApiKeyDetailApi.as_view(), name="apikey-detail"),
    path("keys/<int:key_id>/revoke", routes.ApiKeyRevokeApi.as_view(), name="apikey-revoke"),
]
