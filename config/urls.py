from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from routing.gateway.proxy import chat_completions

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="routing:route-list", permanent=False)),
    path("admin/", admin.site.urls),
    path("routes/", include("routing.web_urls")),
    path("experiments/", include("experiments.web_urls")),
    path("dashboard/", include("analytics.web_urls")),
    path("evaluations/", include("experiments.evaluation_urls")),
    path("routers/", include("experiments.router_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include("routing.urls")),
    path("api/v1/", include("experiments.urls")),
    path("api/v1/", include("analytics.report_urls")),
    path("api/v1/", include("analytics.urls")),
    path("api/v1/", include("experiments.evaluation_api_urls")),
    path("api/v1/", include("experiments.router_api_urls")),
    path("v1/chat/completions", chat_completions, name="chat-completions"),
]
