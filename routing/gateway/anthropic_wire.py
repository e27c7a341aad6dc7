"""routelab's side of Anthropic's Messages API wire format, for `POST /v1/messages`.

A request in Anthropic's shape becomes the OpenAI-shaped chat body the rest of the request path speaks
(then validated like any chat body), and what the path produces goes back in Anthropic's shapes: a
`message` object, the named server-sent events of a stream, and `{"type": "error", ...}` errors. So the
anthropic SDK works against routelab with only its base URL changed, whichever provider serves the call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from django.http import JsonResponse

from routing.gateway.chat_body import BodyError
from routing.gateway.errors import GatewayError
from routing.providers.base import CompletionResult, StreamDelta

ALLOWED = frozenset(
    {
        *("model", "max_tokens", "messages", "system", "temperature", "top_p", "stop_sequences", "stream"),
        *("tools", "tool_choice", "metadata"),
    }
)
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
}


# -- request ------------------------------------------------------------------------------------------


def chat_body_from(data: Any) -> dict:
    """An Anthropic Messages request as an OpenAI-shaped chat body; a BodyError names a bad field."""
    if not isinstance(data, dict):
        raise BodyError("", "The body must be a JSON object.")
    for name in data:
        if name not in ALLOWED:
            raise BodyError(name[:100], "Extra inputs are not permitted.")
    if data.get("max_tokens") is None:
        raise BodyError("max_tokens", "Field required.")
    body: dict[str, Any] = {"messages": [*_system(data.get("system")), *_messages(data.get("messages"))]}
    body["max_tokens"] = data["max_tokens"]
    for ours, theirs in (("model", "model"), ("temperature", "temperature"), ("top_p", "top_p")):
        if data.get(theirs) is not None:
            body[ours] = data[theirs]
    if data.get("stop_sequences") is not None:
        body["stop"] = data["stop_sequences"]
    if data.get("stream") is not None:
        body["stream"] = data["stream"]
    if data.get("tools"):
        body["tools"] = [
            _tool(tool, f"tools.{index}") for index, tool in enumerate(_list(data["tools"], "tools"))
        ]
    body.update(_tool_choice(data.get("tool_choice")))
    user = (data.get("metadata") or {}).get("user_id") if isinstance(data.get("metadata"), dict) else None
    if user is not None:
        body["user"] = user
    return body


def _list(value: Any, path: str) -> list:
    if not isinstance(value, list):
        raise BodyError(path, "Input should be a valid list.")
    return value


def _system(system: Any) -> list[dict]:
    if system is None or system == "":
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    blocks = _list(system, "system")
    text = "\n".join(_text_of(block, f"system.{index}") for index, block in enumerate(blocks))
    return [{"role": "system", "content": text}]


def _text_of(block: Any, path: str) -> str:
    if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
        raise BodyError(path, "Expected a text block: {'type': 'text', 'text': ...}.")
    return block["text"]


def _messages(messages: Any) -> list[dict]:
    if messages is None:
        raise BodyError("messages", "Field required.")
    out: list[dict] = []
    for index, message in enumerate(_list(messages, "messages")):
        path = f"messages.{index}"
        if not isinstance(message, dict):
            raise BodyError(path, "Input should be an object.")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise BodyError(f"{path}.role", "Input should be 'user' or 'assistant'.")
        out.extend(_message(role, message.get("content"), f"{path}.content"))
    return out


def _message(role: str, content: Any, path: str) -> list[dict]:
    """One Anthropic turn as OpenAI messages: tool results become `tool` messages before the user's text,
    an assistant's tool_use blocks its `tool_calls`."""
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    parts: list[dict] = []
    tool_calls: list[dict] = []
    results: list[dict] = []
    for index, block in enumerate(_list(content, path)):
        _block(block, f"{path}.{index}", role, parts, tool_calls, results)
    messages = list(results)
    if role == "assistant":
        turn: dict[str, Any] = {"role": "assistant", "content": parts or None}
        if tool_calls:
            turn["tool_calls"] = tool_calls
        if parts or tool_calls:
            messages.append(turn)
    elif parts:
        messages.append({"role": "user", "content": parts})
    return messages


def _block(block: Any, path: str, role: str, parts: list, tool_calls: list, results: list) -> None:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text":
        parts.append({"type": "text", "text": _text_of(block, path)})
    elif kind == "image" and role == "user":
        parts.append({"type": "image_url", "image_url": {"url": _image_url(block.get("source"), path)}})
    elif kind == "tool_use" and role == "assistant":
        arguments = json.dumps(block.get("input") or {})
        function = {"name": str(block.get("name") or ""), "arguments": arguments}
        tool_calls.append({"id": str(block.get("id") or ""), "type": "function", "function": function})
    elif kind == "tool_result" and role == "user":
        if not isinstance(block.get("tool_use_id"), str):
            raise BodyError(f"{path}.tool_use_id", "Field required.")
        results.append({"role": "tool", "tool_call_id": block["tool_use_id"], "content": _result_text(block)})
    else:
        raise BodyError(f"{path}.type", f"A {role} turn cannot hold a block of type {kind!r} here.")


def _image_url(source: Any, path: str) -> str:
    if isinstance(source, dict) and source.get("type") == "base64":
        return f"data:{source.get('media_type')};base64,{source.get('data')}"
    if isinstance(source, dict) and source.get("type") == "url" and isinstance(source.get("url"), str):
        return source["url"]
    raise BodyError(f"{path}.source", "Expected a base64 or url image source.")


def _result_text(block: dict) -> str:
    content = block.get("content")
    if isinstance(content, list):
        content = "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    text = content if isinstance(content, str) else ""
    return f"Error: {text}" if block.get("is_error") else text


def _tool(tool: Any, path: str) -> dict:
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise BodyError(f"{path}.name", "Field required.")
    function = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> dict:
    if choice is None:
        return {}
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise BodyError("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'.")
    body: dict[str, Any] = {}
    if choice["type"] == "tool":
        body["tool_choice"] = {"type": "function", "function": {"name": str(choice.get("name") or "")}}
    else:
        body["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[choice["type"]]
    if choice.get("disable_parallel_tool_use"):
        body["parallel_tool_calls"] = False
    return body


# -- answers ------------------------------------------------------------------------------------------


def message_body(call_id: str, result: CompletionResult) -> dict:
    """A finished answer as Anthropic's `message` object."""
    content: list[dict] = [{"type": "text", "text": result.text}] if result.text else []
    content += [_tool_use(call) for call in result.tool_calls]
    return {
        "id": f"msg_{call_id}",
        "type": "message",
        "role": "assistant",
        "model": result.model,
        "content": content,
        "stop_reason": STOP_REASONS.get(result.finish_reason, "end_turn"),
        "stop_sequence": None,
        "usage": {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens},
    }


def _tool_use(call: dict) -> dict:
    function = call.get("function") or {}
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except ValueError:
        arguments = {"arguments": function.get("arguments")}
    return {
        "type": "tool_use",
        "id": call.get("id") or "",
        "name": function.get("name") or "",
        "input": arguments,
    }


def event(name: str, payload: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


class StreamWriter:
    """OpenAI-style deltas as Anthropic's stream events: one content block per text run or tool call."""

    def __init__(self, call_id: str, model: str):
        self.call_id, self.model = call_id, model
        self.index = -1
        self.open: tuple[str, int | None] | None = None  # ("text", None) or ("tool", its OpenAI index)

    def start(self) -> bytes:
        message = {
            "id": f"msg_{self.call_id}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return event("message_start", {"type": "message_start", "message": message})

    def delta(self, delta: StreamDelta) -> list[bytes]:
        out: list[bytes] = []
        if delta.text:
            out += self._open(("text", None), {"type": "text", "text": ""})
            out.append(self._delta({"type": "text_delta", "text": delta.text}))
        for fragment in delta.tool_calls:
            position = fragment.get("index", 0)
            function = fragment.get("function") or {}
            block = {
                "type": "tool_use",
                "id": fragment.get("id") or "",
                "name": function.get("name") or "",
                "input": {},
            }
            out += self._open(("tool", position), block)
            if function.get("arguments"):
                out.append(self._delta({"type": "input_json_delta", "partial_json": function["arguments"]}))
        return out

    def finish(self, result: CompletionResult) -> list[bytes]:
        stop = {"stop_reason": STOP_REASONS.get(result.finish_reason, "end_turn"), "stop_sequence": None}
        usage = {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens}
        return [
            *self._close(),
            event("message_delta", {"type": "message_delta", "delta": stop, "usage": usage}),
            event("message_stop", {"type": "message_stop"}),
        ]

    def _open(self, block: tuple[str, int | None], content_block: dict) -> list[bytes]:
        if self.open == block:
            return []
        out = self._close()
        self.index += 1
        self.open = block
        start = {"type": "content_block_start", "index": self.index, "content_block": content_block}
        return [*out, event("content_block_start", start)]

    def _close(self) -> list[bytes]:
        if self.open is None:
            return []
        self.open = None
        return [event("content_block_stop", {"type": "content_block_stop", "index": self.index})]

    def _delta(self, delta: dict) -> bytes:
        return event(
            "content_block_delta", {"type": "content_block_delta", "index": self.index, "delta": delta}
        )


def anthropic_error(exc: GatewayError, headers: dict | None = None) -> JsonResponse:
    """An error in Anthropic's shape: `{"type": "error", "error": {"type", "message"}}`."""
    kind = ERROR_TYPES.get(exc.status, "api_error" if exc.status >= 500 else "invalid_request_error")
    body = {"type": "error", "error": {"type": kind, "message": exc.message}}
    return JsonResponse(body, status=exc.status, headers={**exc.headers, **(headers or {})})


def error_event(message: str) -> bytes:
    """A stream that broke after its first byte ends with this event, as Anthropic's do."""
    return event("error", {"type": "error", "error": {"type": "api_error", "message": message}})


async def stream_bytes(call_id: str, model: str, events: AsyncIterator) -> AsyncIterator[bytes]:
    """Anthropic's events for the request path's `events`: deltas, then the Execution."""
    writer = StreamWriter(call_id, model)
    yield writer.start()
    async for item in events:
        if isinstance(item, StreamDelta):
            for chunk in writer.delta(item):
                yield chunk
            continue
        for chunk in writer.finish(item.result):
            yield chunk
