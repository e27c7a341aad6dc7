"""OpenAI's chat completions wire format: request validation, responses, stream chunks and errors."""

from __future__ import annotations

import time
from typing import Any

from devtools.simulator.answers import Answer, Message, token_chunks
from devtools.simulator.call import (
    ChatCall,
    Dialect,
    check_limits,
    content_text,
    default_max_tokens,
    find_profile,
    message_list,
    optional_bool,
    optional_int,
    optional_number,
)
from devtools.simulator.profiles import ModelProfile
from devtools.simulator.wire import RequestError, StreamPart, header, sse

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
RESPONSE_FORMATS = frozenset({"text", "json_object", "json_schema"})
FINGERPRINT = "fp_routelab_sim"
_ERROR_TYPES = {429: "requests", 500: "server_error", 503: "server_error"}
_ERROR_CODES = {401: "invalid_api_key"}


def parse_messages(raw: list[Any]) -> tuple[tuple[Message, ...], bool]:
    messages: list[Message] = []
    images = False
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise RequestError(f"'messages[{index}]' must be an object.", param=f"messages[{index}]")
        role = item.get("role")
        if role not in ROLES:
            message = f"'messages[{index}].role' must be one of {sorted(ROLES)}, got {role!r}."
            raise RequestError(message, param=f"messages[{index}].role")
        text, image = content_text(item.get("content"), f"messages[{index}].content")
        messages.append((role, text))
        images = images or image
    return tuple(messages), images


def _max_tokens(body: dict[str, Any]) -> tuple[int | None, str]:
    if body.get("max_completion_tokens") is not None:
        return optional_int(body, "max_completion_tokens"), "max_completion_tokens"
    return optional_int(body, "max_tokens"), "max_tokens"


def _include_usage(body: dict[str, Any], stream: bool) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not stream:
        message = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        raise RequestError(message, param="stream_options")
    if not isinstance(options, dict):
        raise RequestError("'stream_options' must be an object.", param="stream_options")
    return optional_bool(options, "include_usage", param="stream_options.include_usage")


def _has_tools(body: dict[str, Any]) -> bool:
    tools = body.get("tools")
    if tools is None:
        return False
    if not isinstance(tools, list) or not all(isinstance(tool, dict) for tool in tools):
        raise RequestError("'tools' must be an array of objects.", param="tools")
    return bool(tools)


def _json_output(body: dict[str, Any]) -> bool:
    response_format = body.get("response_format")
    if response_format is None:
        return False
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind not in RESPONSE_FORMATS:
        message = f"'response_format.type' must be one of {sorted(RESPONSE_FORMATS)}."
        raise RequestError(message, param="response_format")
    return kind != "text"


def _check_scalars(body: dict[str, Any]) -> None:
    optional_number(body, "temperature", 0.0, 2.0)
    optional_number(body, "top_p", 0.0, 1.0)
    if body.get("n") not in (None, 1):
        raise RequestError("The simulator only supports n=1.", param="n")
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise RequestError("'user' must be a string.", param="user")


def usage(answer: Answer) -> dict[str, int]:
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
    }


class OpenAIDialect(Dialect):
    def api_key(self, scope: dict[str, Any]) -> str | None:
        value = header(scope, "authorization") or ""
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None

    def parse(self, body: dict[str, Any], profiles: dict[str, ModelProfile]) -> ChatCall:
        profile = find_profile(body, profiles)
        messages, images = parse_messages(message_list(body))
        max_tokens, max_tokens_param = _max_tokens(body)
        _check_scalars(body)
        stream = optional_bool(body, "stream")
        call = ChatCall(
            profile=profile,
            messages=messages,
            max_tokens=max_tokens or default_max_tokens(profile, messages),
            stream=stream,
            include_usage=_include_usage(body, stream),
            images=images,
            tools=_has_tools(body),
            json_output=_json_output(body),
        )
        return check_limits(call, max_tokens_param)

    def error_payload(self, error: RequestError) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(
            error.status, "invalid_request_error" if error.status < 500 else "server_error"
        )
        code = error.code or _ERROR_CODES.get(error.status)
        return {"error": {"message": error.message, "type": kind, "param": error.param, "code": code}}

    def response_payload(self, call: ChatCall, answer: Answer, response_id: str) -> dict[str, Any]:
        message = {"role": "assistant", "content": answer.text, "refusal": None}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": answer.finish_reason}
        return {
            **self._envelope(call, response_id, "chat.completion"),
            "choices": [choice],
            "usage": usage(answer),
            "simulator": answer.simulator_info(),
        }

    def stream_parts(self, call: ChatCall, answer: Answer, response_id: str) -> list[StreamPart]:
        base = self._envelope(call, response_id, "chat.completion.chunk")
        if call.include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return {**base, "choices": [choice]}

        parts = [sse(chunk({"role": "assistant", "content": ""}))]
        parts += [
            StreamPart(sse(chunk({"content": text})).data, n) for text, n in token_chunks(answer.tokens)
        ]
        parts.append(sse(chunk({}, answer.finish_reason)))
        if call.include_usage:
            parts.append(
                sse({**base, "choices": [], "usage": usage(answer), "simulator": answer.simulator_info()})
            )
        return [*parts, StreamPart(b"data: [DONE]\n\n")]

    @staticmethod
    def _envelope(call: ChatCall, response_id: str, kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{response_id}",
            "object": kind,
            "created": int(time.time()),
            "model": call.profile.name,
            "system_fingerprint": FINGERPRINT,
        }


OPENAI = OpenAIDialect()
