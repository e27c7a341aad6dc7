"""routelab's side of the OpenAI wire format: request validation, responses, stream chunks, errors."""

from __future__ import annotations

import json
import time
from typing import Any

from rest_framework import serializers

from routing.gateway.chat_body import ROLES
from routing.providers.base import ChatRequest, CompletionResult, StreamDelta


class MessageSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)
    content = serializers.JSONField(required=False, allow_null=True)
    name = serializers.CharField(required=False)
    tool_calls = serializers.ListField(child=serializers.DictField(), required=False)
    tool_call_id = serializers.CharField(required=False)


class ChatInputSerializer(serializers.Serializer):
    """The body of POST /v1/chat/completions, for the OpenAPI schema.

    Requests are validated by `routing.gateway.chat_body.validate_chat_body`, the one authority on it;
    tests/routing/gateway/test_endpoint.py keeps the two in step.
    """

    model = serializers.CharField(required=False, allow_blank=True, max_length=200)
    messages = MessageSerializer(many=True, allow_empty=False)
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    max_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    max_completion_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    tools = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True)
    tool_choice = serializers.JSONField(required=False, allow_null=True)
    stop = serializers.JSONField(required=False, allow_null=True)
    stream = serializers.BooleanField(required=False, default=False)
    stream_options = serializers.DictField(required=False, allow_null=True)
    response_format = serializers.DictField(required=False, allow_null=True)
    user = serializers.CharField(required=False, allow_blank=True, max_length=256)
    metadata = serializers.DictField(child=serializers.CharField(max_length=200), required=False)
    n = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1)
    modalities = serializers.ListField(child=serializers.ChoiceField(choices=["text"]), required=False)
    # passed on to the provider (translated for Anthropic where it has an equivalent, else a 400)
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=-(2**63), max_value=2**63 - 1)
    top_p = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    frequency_penalty = serializers.FloatField(required=False, allow_null=True, min_value=-2, max_value=2)
    presence_penalty = serializers.FloatField(required=False, allow_null=True, min_value=-2, max_value=2)
    logit_bias = serializers.DictField(
        child=serializers.FloatField(min_value=-100, max_value=100), required=False, allow_null=True
    )
    logprobs = serializers.BooleanField(required=False, allow_null=True)
    top_logprobs = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=20)
    parallel_tool_calls = serializers.BooleanField(required=False, allow_null=True)
    reasoning_effort = serializers.ChoiceField(
        choices=["none", "minimal", "low", "medium", "high"], required=False, allow_null=True
    )
    service_tier = serializers.ChoiceField(
        choices=["auto", "default", "flex", "scale", "priority"], required=False, allow_null=True
    )
    store = serializers.BooleanField(required=False, allow_null=True)
    verbosity = serializers.ChoiceField(choices=["low", "medium", "high"], required=False, allow_null=True)
    prompt_cache_key = serializers.CharField(required=False, allow_null=True, max_length=256)
    safety_identifier = serializers.CharField(required=False, allow_null=True, max_length=256)


class RouteRequestSerializer(ChatInputSerializer):
    """The body of POST /api/v1/route: a chat request, decided now, or called later by a worker."""

    execute = serializers.BooleanField(
        required=False, default=False, help_text="Call the model too, in a worker: answers 202 with a job"
    )
    webhook_url = serializers.URLField(
        required=False, max_length=500, help_text="With `execute`: a signed POST of the job's outcome"
    )


class ChatCompletionSerializer(serializers.Serializer):
    """OpenAI's `chat.completion` object, with routelab's decision under `routelab`."""

    id = serializers.CharField()
    object = serializers.CharField(default="chat.completion")
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = serializers.ListField(child=serializers.DictField())
    usage = serializers.DictField(child=serializers.IntegerField())
    routelab = serializers.DictField(
        help_text="decision_id, route, policy_version, model, fallbacks_used, escalations, cost_usd, trace"
    )


def chat_request_from(data: dict[str, Any]) -> ChatRequest:
    stop = data.get("stop")
    return ChatRequest(
        messages=tuple(dict(message) for message in data["messages"]),
        temperature=data.get("temperature"),
        max_tokens=data.get("max_completion_tokens") or data.get("max_tokens"),
        tools=tuple(data["tools"]) if data.get("tools") else None,
        tool_choice=data.get("tool_choice"),
        stop=(stop,) if isinstance(stop, str) else tuple(stop) if stop else None,
        user=data.get("user") or None,
        response_format=data.get("response_format"),
        params=dict(data.get("params") or {}),
    )


def error_body(
    message: str, *, type: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def completion_body(*, call_id: str, result: CompletionResult, extra: dict) -> dict:
    message: dict[str, Any] = {"role": "assistant", "content": result.text}
    if result.tool_calls:
        message["tool_calls"] = list(result.tool_calls)
        message["content"] = result.text or None
    return {
        "id": f"chatcmpl-{call_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": result.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": result.finish_reason,
                "logprobs": result.logprobs,
            }
        ],
        "usage": usage_body(result),
        "routelab": extra,
    }


def usage_body(result: CompletionResult) -> dict:
    return {
        "prompt_tokens": result.input_tokens,
        "completion_tokens": result.output_tokens,
        "total_tokens": result.input_tokens + result.output_tokens,
    }


def sse(payload: dict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def chunk(call_id: str, model: str, delta: dict, finish_reason: str | None = None, **extra) -> bytes:
    return sse(
        {
            "id": f"chatcmpl-{call_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            **extra,
        }
    )


def delta_chunk(call_id: str, model: str, delta: StreamDelta) -> bytes:
    body: dict[str, Any] = {}
    if delta.text:
        body["content"] = delta.text
    if delta.tool_calls:
        body["tool_calls"] = list(delta.tool_calls)
    if delta.logprobs is None:
        return chunk(call_id, model, body)
    return sse(
        {
            "id": f"chatcmpl-{call_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": body, "finish_reason": None, "logprobs": delta.logprobs}],
        }
    )
