from django.urls import path

from routing import policy_views, views

app_name = "routing"

urlpatterns = [
    path("", views.route_list, name="route-list"),
    path("<slug:route_name>/", views.route_detail, name="route-detail"),
    path("<slug:route_name>/policies", views.policy_create, name="policy-create"),
    path(
        "<slug:route_name>/policies/<slug:policy_name>/publish", views.policy_publish, name="policy-publish"
    ),
    path("<slug:route_name>/policies/new", policy_views.policy_new, name="policy-new"),
    path(
        "<slug:route_name>/policies/<slug:policy_name>/history",
        policy_views.policy_history,
        name="policy-history",
    ),
    path("<slug:route_name>/live-policy", views.live_policy_set, name="live-policy"),
    path("<slug:route_name>/limits", views.route_limits, name="route-limits"),
    # -- keys --
    path("<slug:route_name>/keys", views.api_key_create, name="key-create"),
    path("<slug:route_name>/keys/<int:key_id>/revoke", views.api_key_revoke, name="key-revoke"),
    path("<slug:route_name>/keys/<int:key_id>/limits", views.api_key_limits, name="key-limits"),
    # -- end keys --
]
