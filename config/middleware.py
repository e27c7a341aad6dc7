"""A request body larger than MAX_REQUEST_BYTES is refused with a 413 before any view reads it.

The OpenAI-compatible gateway (`/v1/`) checks its own bodies and answers in the provider's error shape;
the REST API gets its JSON error shape; the web UI gets a page that says what happened.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import JsonResponse
from django.template.response import TemplateResponse


def _declared_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_large(request):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if request.path.startswith("/v1/") or _declared_length(request) <= limit:
        return None
    message = f"The request body is larger than the {limit:,} bytes this server accepts (MAX_REQUEST_BYTES)."
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"type": "request_too_large", "message": message}}, status=413)
    return TemplateResponse(
        request, "413.html", {"message": message, "back": request.path}, status=413
    ).render()


class BodySizeLimitMiddleware:
    async_capable = True
    sync_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return _too_large(request) or self.get_response(request)

    async def _acall(self, request):
        return _too_large(request) or await self.get_response(request)
