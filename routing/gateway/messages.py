"""POST /v1/messages: Anthropic's Messages API in front of the same request path as chat completions.

The anthropic SDK (or anything that speaks the Messages API) changes only its base URL; routelab
authenticates its key (`x-api-key` or a bearer token), routes, calls whichever provider the policy
chooses, answers (or streams) in Anthropic's format and records one call row, as for `/v1/chat/completions`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from routing.gateway.anthropic_wire import (
    anthropic_error,
    chat_body_from,
    error_event,
    message_body,
    stream_bytes,
)
from routing.gateway.body import body_errors_as_400, json_body
from routing.gateway.chat_body import validate_chat_body
from routing.gateway.endpoint import ErrorSerializer, key_endpoint
from routing.gateway.execute import Execution
from routing.gateway.proxy import Dialect, serve_chat
from routing.gateway.record import CallDraft


class AnthropicMessagesInputSerializer(serializers.Serializer):
    """The body of POST /v1/messages, as Anthropic documents it (the fields routelab takes)."""

    model = serializers.CharField(required=False, max_length=200, help_text="A route, `route:<name>`")
    max_tokens = serializers.IntegerField(min_value=1)
    messages = serializers.ListField(child=serializers.DictField(), allow_empty=False)
    system = serializers.JSONField(required=False)
    temperature = serializers.FloatField(required=False, min_value=0, max_value=2)
    top_p = serializers.FloatField(required=False, min_value=0, max_value=1)
    stop_sequences = serializers.ListField(child=serializers.CharField(), required=False, max_length=4)
    stream = serializers.BooleanField(required=False, default=False)
    tools = serializers.ListField(child=serializers.DictField(), required=False)
    tool_choice = serializers.DictField(required=False)
    metadata = serializers.DictField(required=False, help_text="`user_id`: the user to assign and record")


class AnthropicMessageSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField(default="message")
    role = serializers.CharField(default="assistant")
    model = serializers.CharField()
    content = serializers.ListField(child=serializers.DictField())
    stop_reason = serializers.CharField()
    usage = serializers.DictField()


def _answer(draft: CallDraft, execution: Execution) -> dict:
    return message_body(draft.id, execution.result)


def _sse(draft: CallDraft, events: AsyncIterator, data: dict) -> AsyncIterator[bytes]:
    return stream_bytes(draft.id, draft.routed.decision.model.split("/", 1)[-1], events)


ANTHROPIC = Dialect(answer=_answer, stream=_sse, stream_error=error_event, error=anthropic_error)


@key_endpoint(
    "POST",
    request=AnthropicMessagesInputSerializer,
    responses={
        200: OpenApiResponse(
            AnthropicMessageSerializer, description="The message; with `stream: true`, Anthropic's events"
        ),
        429: OpenApiResponse(ErrorSerializer, description="Every model was rate-limited"),
        502: OpenApiResponse(ErrorSerializer, description="Every model failed"),
    },
    error=anthropic_error,
)
async def messages(request: HttpRequest, *, key, snapshot) -> HttpResponse:
    """Anthropic's Messages API: routed by the key's route, answered (or streamed) in Anthropic's format."""
    with body_errors_as_400():
        body = validate_chat_body(chat_body_from(json_body(request)))
    return await serve_chat(body, key=key, snapshot=snapshot, dialect=ANTHROPIC)
