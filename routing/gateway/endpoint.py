"""One decorator for every endpoint a route API key calls: method, key, error shape and OpenAPI schema.

    @key_endpoint("POST", request=ChatInputSerializer, responses={200: ChatCompletionSerializer})
    async def chat_completions(request, *, key, snapshot): ...

The handler runs only for the right method and a valid, unrevoked key (from the in-memory snapshot, so
no database query); it gets the key and the snapshot and may raise `GatewayError` anywhere, which becomes
a JSON error in the endpoint's wire format. The decorator also gives the view the `cls` that DRF's schema
generator reads, so the endpoint appears in `/api/docs/` with its real request and response bodies.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from routing.gateway import wire
from routing.gateway.authenticate import authenticate
from routing.gateway.errors import GatewayError
from routing.gateway.snapshot import snapshot_cache

KEY_SECURITY = "routeApiKey"
ERROR_STATUSES = (400, 401, 403, 404, 405, 409, 413, 429)


class ErrorSerializer(serializers.Serializer):
    """`{"error": {"message", "type", "param", "code"}}`, as OpenAI's API answers errors."""

    error = serializers.DictField()


def openai_error(exc: GatewayError, headers: dict | None = None) -> JsonResponse:
    body = wire.error_body(exc.message, type=exc.type, param=exc.param)
    return JsonResponse(body, status=exc.status, headers={**exc.headers, **(headers or {})})


def key_endpoint(
    method: str,
    *,
    responses: dict,
    request: type[serializers.Serializer] | None = None,
    description: str = "",
    parameters: tuple = (),
    error: Callable[..., JsonResponse] = openai_error,
):
    """Serve an async handler `(request, *, key, snapshot, **path)` to route API keys only."""

    def decorate(handler):
        @csrf_exempt
        @functools.wraps(handler)
        async def view(http_request, **path):
            if http_request.method != method:
                return error(GatewayError(405, f"Use {method}."), {"Allow": method})
            try:
                snapshot = await snapshot_cache.aget()
                key = authenticate(snapshot, _authorization(http_request.headers))
                return await handler(http_request, key=key, snapshot=snapshot, **path)
            except GatewayError as exc:
                return error(exc)

        schema = extend_schema(
            request=request,
            responses={**_error_responses(), **responses},
            description=description or (handler.__doc__ or "").strip(),
            parameters=list(parameters),
            auth=[{KEY_SECURITY: []}],
            operation_id=handler.__name__,
        )
        view.cls = _schema_view(handler.__name__, method, schema)
        view.initkwargs = {}
        return view

    return decorate


@csrf_exempt
async def not_found(request, path: str = "") -> JsonResponse:
    """Any other path under /v1/: a JSON 404 in OpenAI's error shape, which clients parse, not a page."""
    message = f"{request.method} {request.path} is not an endpoint of this server."
    return openai_error(GatewayError(404, message, type="not_found"))


def _authorization(headers) -> str | None:
    """`Authorization: Bearer <key>`, or Anthropic's `x-api-key: <key>` as the anthropic SDK sends it."""
    if authorization := headers.get("Authorization"):
        return authorization
    api_key = headers.get("x-api-key")
    return f"Bearer {api_key}" if api_key else None


def _error_responses() -> dict:
    return {status: OpenApiResponse(ErrorSerializer, description="An error") for status in ERROR_STATUSES}


def _schema_view(name: str, method: str, schema) -> type[APIView]:
    """The APIView that DRF's schema generator reads; the decorated function serves the requests."""

    def operation(self, request, *args, **kwargs):  # pragma: no cover - never routed to
        raise NotImplementedError

    attributes = {
        method.lower(): schema(operation),
        "authentication_classes": [],
        "parser_classes": [JSONParser],
        "permission_classes": [AllowAny],
        "__doc__": "Authenticated by a route API key (`Authorization: Bearer rl_...`).",
    }
    return type(f"{name.title().replace('_', '')}Endpoint", (APIView,), attributes)
