"""POST /v1/responses: OpenAI's Responses API (text and function tools) in front of the chat request path.

The openai SDK's `client.responses.create` works with only its base URL changed: routelab authenticates
the key, turns the request into a chat request, routes it, calls whichever provider the policy chooses,
answers (or streams) in the Responses format and records one call row, as for `/v1/chat/completions`.
Nothing is stored: a follow-up turn sends the whole conversation again in `input`.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from routing.gateway.body import body_errors_as_400, json_body
from routing.gateway.chat_body import validate_chat_body
from routing.gateway.endpoint import ErrorSerializer, key_endpoint, openai_error
from routing.gateway.execute import Execution
from routing.gateway.proxy import Dialect, serve_chat
from routing.gateway.record import CallDraft
from routing.gateway.responses_wire import chat_body_from, echo_of, error_event, response_body, stream_bytes


class ResponsesInputSerializer(serializers.Serializer):
    """The body of POST /v1/responses, as OpenAI documents it (the fields routelab takes)."""

    model = serializers.CharField(required=False, max_length=200, help_text="A route, `route:<name>`")
    input = serializers.JSONField(help_text="A string, or a list of messages and function call items")
    instructions = serializers.CharField(required=False)
    tools = serializers.ListField(child=serializers.DictField(), required=False, help_text="Function tools")
    tool_choice = serializers.JSONField(required=False)
    max_output_tokens = serializers.IntegerField(required=False, min_value=1)
    temperature = serializers.FloatField(required=False, min_value=0, max_value=2)
    top_p = serializers.FloatField(required=False, min_value=0, max_value=1)
    text = serializers.DictField(required=False, help_text="`format`: text, json_object or json_schema")
    parallel_tool_calls = serializers.BooleanField(required=False)
    stream = serializers.BooleanField(required=False, default=False)
    store = serializers.BooleanField(required=False, help_text="false only: routelab stores no responses")
    user = serializers.CharField(required=False, max_length=256)
    metadata = serializers.DictField(child=serializers.CharField(max_length=200), required=False)


class ResponseSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="response")
    created_at = serializers.IntegerField()
    status = serializers.CharField()
    model = serializers.CharField()
    output = serializers.ListField(child=serializers.DictField())
    usage = serializers.DictField()


def _answer(draft: CallDraft, execution: Execution, *, echo: dict) -> dict:
    return response_body(draft.id, execution.result, echo)


def _sse(draft: CallDraft, events: AsyncIterator, data: dict, *, echo: dict) -> AsyncIterator[bytes]:
    return stream_bytes(draft.id, draft.routed.decision.model.split("/", 1)[-1], events, echo)


def _dialect(echo: dict) -> Dialect:
    """The Responses format, repeating the request's settings (`echo`) in each `response` object."""
    return Dialect(
        answer=functools.partial(_answer, echo=echo),
        stream=functools.partial(_sse, echo=echo),
        stream_error=error_event,
        error=openai_error,
    )


@key_endpoint(
    "POST",
    request=ResponsesInputSerializer,
    responses={
        200: OpenApiResponse(
            ResponseSerializer, description="The response; with `stream: true`, the Responses stream's events"
        ),
        429: OpenApiResponse(ErrorSerializer, description="Every model was rate-limited"),
        502: OpenApiResponse(ErrorSerializer, description="Every model failed"),
    },
)
async def responses(request: HttpRequest, *, key, snapshot) -> HttpResponse:
    """OpenAI's Responses API: routed by the key's route, answered (or streamed) in the Responses format."""
    data = json_body(request)
    with body_errors_as_400():
        body = validate_chat_body(chat_body_from(data))
    return await serve_chat(body, key=key, snapshot=snapshot, dialect=_dialect(echo_of(data)))
