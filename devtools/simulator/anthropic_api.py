"""Anthropic's Messages wire format over the same simulated models, so its adapter meets real HTTP too."""

from __future__ import annotations

from typing import Any

from devtools.simulator.answers import Answer, Message, token_chunks
from devtools.simulator.call import (
    ChatCall,
    Dialect,
    check_limits,
    content_text,
    find_profile,
    message_list,
    optional_bool,
    optional_int,
    optional_number,
)
from devtools.simulator.profiles import ModelProfile
from devtools.simulator.wire import RequestError, StreamPart, header, sse

ROLES = frozenset({"user", "assistant"})
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}


def _system(body: dict[str, Any]) -> tuple[Message, ...]:
    system = body.get("system")
    if system is None:
        return ()
    text, _ = content_text(system, "system")
    return (("system", text),)


def parse_messages(raw: list[Any]) -> tuple[tuple[Message, ...], bool]:
    messages: list[Message] = []
    images = False
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise RequestError(f"messages.{index}: must be an object.", param=f"messages.{index}")
        role = item.get("role")
        if role not in ROLES:
            message = f"messages.{index}.role: must be 'user' or 'assistant', got {role!r}."
            raise RequestError(message, param=f"messages.{index}.role")
        text, image = content_text(item.get("content"), f"messages.{index}.content")
        messages.append((role, text))
        images = images or image
    return tuple(messages), images


def _required_max_tokens(body: dict[str, Any]) -> int:
    if body.get("max_tokens") is None:
        raise RequestError("max_tokens: Field required.", param="max_tokens")
    return optional_int(body, "max_tokens") or 0


def _has_tools(body: dict[str, Any]) -> bool:
    tools = body.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
        raise RequestError("tools: must be an array of objects.", param="tools")
    return bool(tools)


def _usage(answer: Answer) -> dict[str, int]:
    return {"input_tokens": answer.prompt_tokens, "output_tokens": answer.completion_tokens}


class AnthropicDialect(Dialect):
    injected_error_status = 529
    injected_error_message = "Overloaded"

    def api_key(self, scope: dict[str, Any]) -> str | None:
        return header(scope, "x-api-key")

    def parse(self, body: dict[str, Any], profiles: dict[str, ModelProfile]) -> ChatCall:
        profile = find_profile(body, profiles)
        max_tokens = _required_max_tokens(body)
        messages, images = parse_messages(message_list(body))
        optional_number(body, "temperature", 0.0, 1.0)
        call = ChatCall(
            profile=profile,
            messages=_system(body) + messages,
            max_tokens=max_tokens,
            stream=optional_bool(body, "stream"),
            images=images,
            tools=_has_tools(body),
        )
        return check_limits(call, "max_tokens")

    def error_payload(self, error: RequestError) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(error.status, "api_error" if error.status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": error.message}}

    def response_payload(self, call: ChatCall, answer: Answer, response_id: str) -> dict[str, Any]:
        return {
            **self._message(call, response_id),
            "content": [{"type": "text", "text": answer.text}],
            "stop_reason": _STOP_REASONS[answer.finish_reason],
            "usage": _usage(answer),
            "simulator": answer.simulator_info(),
        }

    def stream_parts(self, call: ChatCall, answer: Answer, response_id: str) -> list[StreamPart]:
        start = {**self._message(call, response_id), "content": [], "stop_reason": None}
        start["usage"] = {"input_tokens": answer.prompt_tokens, "output_tokens": 1}
        parts = [
            sse({"type": "message_start", "message": start}, "message_start"),
            sse(
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start",
            ),
        ]
        for text, n in token_chunks(answer.tokens):
            delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
            parts.append(StreamPart(sse(delta, "content_block_delta").data, n))
        return [*parts, *self._closing_events(answer)]

    @staticmethod
    def _closing_events(answer: Answer) -> list[StreamPart]:
        delta = {"stop_reason": _STOP_REASONS[answer.finish_reason], "stop_sequence": None}
        message_delta = {
            "type": "message_delta",
            "delta": delta,
            "usage": {"output_tokens": answer.completion_tokens},
            "simulator": answer.simulator_info(),
        }
        return [
            sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            sse(message_delta, "message_delta"),
            sse({"type": "message_stop"}, "message_stop"),
        ]

    @staticmethod
    def _message(call: ChatCall, response_id: str) -> dict[str, Any]:
        return {
            "id": f"msg_{response_id}",
            "type": "message",
            "role": "assistant",
            "model": call.profile.name,
            "stop_sequence": None,
        }


ANTHROPIC = AnthropicDialect()
