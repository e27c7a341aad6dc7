from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_control
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from routing.gateway.embeddings import embeddings
from routing.gateway.endpoint import not_found as gateway_not_found
from routing.gateway.messages import messages
from routing.gateway.models_list import model_retrieve, models_list
from routing.gateway.proxy import chat_completions
from routing.gateway.responses import responses

FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#2f6fde"/>'
    '<path d="M7 24 L16 8 L25 24" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round"/>'
    '<circle cx="16" cy="8" r="3" fill="#fff"/></svg>'
)


@cache_control(public=True, max_age=86400)
def favicon(request):
    return HttpResponse(FAVICON, content_type="image/svg+xml")


# The gateway's paths first: Django tries the patterns in order, and these serve nearly every request.
urlpatterns = [
    path("v1/chat/completions", chat_completions, name="chat-completions"),
    path("v1/messages", messages, name="messages"),
    path("v1/embeddings", embeddings, name="embeddings"),
    path("v1/responses", responses, name="responses"),
    path("v1/models", models_list, name="models-list"),
    path("v1/models/<path:model>", model_retrieve, name="model-retrieve"),
    re_path(r"^v1/(?P<path>.*)$", gateway_not_found, name="gateway-not-found"),
    path("favicon.ico", favicon, name="favicon"),
    path("", RedirectView.as_view(pattern_name="routing:route-list", permanent=False)),
    path("admin/", admin.site.urls),
    path("routes/", include("routing.web_urls")),
    path("registry/", include("routing.registry_urls")),
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
]
