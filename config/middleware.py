"""A request body larger than MAX_REQUEST_BYTES is refused with a 413 before any view reads it.

The gateway's endpoints skip the middleware (config/asgi.py) and check their own bodies (`/v1/` always
does); they and the REST API answer the same JSON, `too_large_body`, in the OpenAI error shape (a superset
of the API's own); the web UI gets a page that says what happened. A chunked body declares no length:
under ASGI Django has spooled it into a seekable file by now, whose size is the body's.
"""

from __future__ import annotations

import os

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import JsonResponse
from django.template.response import TemplateResponse


def too_large_message() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return f"The request body is larger than the {limit:,} bytes this server accepts (MAX_REQUEST_BYTES)."


def too_large_body() -> dict:
    return {
        "error": {"message": too_large_message(), "type": "request_too_large", "param": None, "code": None}
    }


def _body_length(request) -> int:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    stream = getattr(request, "_stream", None)  # as HttpRequest.body measures it
    if declared or not (hasattr(stream, "seekable") and stream.seekable()):
        return declared
    position = stream.tell()
    size = stream.seek(0, os.SEEK_END)
    stream.seek(position)
    return size - position


def _too_large(request):
    if request.path.startswith("/v1/") or _body_length(request) <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return None
    message = too_large_message()
    if request.path.startswith("/api/"):
        return JsonResponse(too_large_body(), status=413)
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
