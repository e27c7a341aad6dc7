"""Anthropic Messages API (https://docs.anthropic.com/en/api/messages), called with OpenAI-style requests.

The OpenAI chat request is converted on the way out (system prompt, content parts, tool calls and tool
results, tools, tool_choice) and the answer converted back to OpenAI shapes (text, `tool_calls` with
JSON-string arguments, finish reasons). OpenAI's other parameters are translated where the Messages API
has an equivalent (`top_p`; `parallel_tool_calls: false` as `disable_parallel_tool_use`; `service_tier`
auto or default; `store: false`, which Anthropic does anyway; `safety_identifier` as the user id); one it
cannot honour (a seed, penalties, logit bias, logprobs, reasoning effort, a JSON response format, ...)
refuses the request with a 400 naming it, which goes back to the client as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from routing.providers.base import (
    ChatRequest,
    ModelTarget,
    ParsedCompletion,
    ProviderAdapter,
    ProviderError,
    StreamDelta,
    content_text,
    json_object,
)

ANTHROPIC_VERSION = "2023-06-01"
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Error event types in a stream: (kind, retryable). Any other type is a permanent "stream_error".
STREAM_ERRORS = {
    "overloaded_error": ("overloaded", True),
    "api_error": ("server_error", True),
    "rate_limit_error": ("rate_limit", False),
    "invalid_request_error": ("bad_request", False),
    "authentication_error": ("auth", False),
    "permission_error": ("auth", False),
    "not_found_error": ("not_found", False),
}


@dataclass
class AnthropicStreamState:
    model: str
    blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    tool_indexes: dict[int, int] = field(default_factory=dict)  # content block index -> OpenAI tool index
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    stopped: bool = False


class AnthropicAdapter(ProviderAdapter):
    kind = "anthropic"

    # -- request ------------------------------------------------------------------------------------

    def endpoint(self, target: ModelTarget) -> str:
        base = target.base_url.rstrip("/")
        return base.removesuffix("/v1") + "/v1/messages"

    def headers(self, target: ModelTarget) -> dict[str, str]:
        headers = {
            "anthropic-version": target.options.get("anthropic_version") or ANTHROPIC_VERSION,
            "content-type": "application/json",
        }
        if target.api_key:
            headers["x-api-key"] = target.api_key
        headers.update(target.options.get("headers") or {})
        return headers

    def build_body(self, target: ModelTarget, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        system, messages = convert_messages(request.messages)
        body: dict[str, Any] = {
            "model": target.model_id,
            "max_tokens": request.max_tokens or target.max_output_tokens,
            "messages": messages,
        }
        body.update(
            {key: value for key, value in _optional_fields(system, request).items() if value is not None}
        )
        _translate_params(body, request)
        if stream:
            body["stream"] = True
        return body

    # -- response -----------------------------------------------------------------------------------

    def parse_response(self, target: ModelTarget, payload: dict[str, Any]) -> ParsedCompletion:
        blocks = payload["content"]
        input_tokens, output_tokens = _usage(payload.get("usage") or {})
        return ParsedCompletion(
            text="".join(block["text"] for block in blocks if block.get("type") == "text"),
            finish_reason=_finish_reason(payload.get("stop_reason")),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model=payload.get("model") or target.model_id,
            tool_calls=tuple(
                _tool_call(block, json.dumps(block.get("input") or {}))
                for block in blocks
                if block.get("type") == "tool_use"
            ),
        )

    def error_message(self, response: httpx.Response) -> str:
        error = json_object(response).get("error")
        if not isinstance(error, dict):
            return super().error_message(response)
        return f"HTTP {response.status_code}: {error.get('type') or 'error'}: {error.get('message') or ''}"

    # -- streaming ----------------------------------------------------------------------------------

    def new_stream_state(self, target: ModelTarget) -> AnthropicStreamState:
        return AnthropicStreamState(model=target.model_id)

    def parse_stream_event(
        self, state: AnthropicStreamState, event: str | None, data: str
    ) -> StreamDelta | None:
        payload = json.loads(data)
        handler = _EVENT_HANDLERS.get(payload.get("type") or event or "")
        return handler(state, payload) if handler else None  # ping and new event types are ignored

    def finish_stream(self, state: AnthropicStreamState) -> ParsedCompletion:
        if not state.stopped:
            raise ProviderError("stream ended before message_stop", kind="stream_cut", retryable=False)
        blocks = [state.blocks[index] for index in sorted(state.blocks)]
        return ParsedCompletion(
            text="".join(block["text"] for block in blocks if block["type"] == "text"),
            finish_reason=_finish_reason(state.stop_reason),
            input_tokens=state.input_tokens,
            output_tokens=state.output_tokens,
            model=state.model,
            tool_calls=tuple(
                _tool_call(block, block["json"] or "{}") for block in blocks if block["type"] == "tool_use"
            ),
        )


# -- request conversion -----------------------------------------------------------------------------


def convert_messages(messages: tuple[dict[str, Any], ...]) -> tuple[str, list[dict[str, Any]]]:
    """OpenAI messages -> (Anthropic top-level system prompt, Anthropic messages)."""
    system: list[str] = []
    converted: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(content_text(message.get("content")))
        elif role == "tool":
            _append_tool_result(converted, message)
        elif role == "assistant":
            converted.append({"role": "assistant", "content": _assistant_content(message)})
        else:
            converted.append({"role": "user", "content": _content(message.get("content"))})
    return "\n\n".join(part for part in system if part), converted


def _optional_fields(system: str, request: ChatRequest) -> dict[str, Any]:
    return {
        "system": system or None,
        "temperature": request.temperature,
        "stop_sequences": list(request.stop) if request.stop else None,
        "tools": [_tool(tool) for tool in request.tools] if request.tools else None,
        "tool_choice": _tool_choice(request.tool_choice),
        "metadata": {"user_id": request.user} if request.user else None,
    }


def _content(content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, list):
        return [_content_part(part) for part in content]
    return content or ""


def _content_part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") == "text":
        return {"type": "text", "text": part.get("text") or ""}
    if part.get("type") == "image_url":
        image = part.get("image_url")
        return _image(image.get("url") if isinstance(image, dict) else image)
    raise ProviderError(
        f"content part of type {part.get('type')!r} cannot be sent to Anthropic",
        kind="bad_request",
        retryable=False,
    )


def _image(url: str) -> dict[str, Any]:
    if not url.startswith("data:"):
        return {"type": "image", "source": {"type": "url", "url": url}}
    header, _, data = url.partition(",")  # data:image/png;base64,iVBOR...
    media_type = header.removeprefix("data:").split(";")[0]
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def _assistant_content(message: dict[str, Any]) -> str | list[dict[str, Any]]:
    tool_calls = message.get("tool_calls") or ()
    if not tool_calls:
        return _content(message.get("content"))
    text = content_text(message.get("content"))
    blocks = [{"type": "text", "text": text}] if text else []
    return blocks + [_tool_use(call) for call in tool_calls]


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    return {
        "type": "tool_use",
        "id": call.get("id"),
        "name": function.get("name"),
        "input": _tool_input(function.get("arguments") or "{}"),
    }


def _tool_input(arguments: Any) -> Any:
    if not isinstance(arguments, str):
        return arguments
    try:
        return json.loads(arguments)
    except ValueError as exc:
        raise ProviderError(
            f"tool call arguments are not JSON: {arguments[:200]!r}", kind="bad_request", retryable=False
        ) from exc


def _append_tool_result(converted: list[dict[str, Any]], message: dict[str, Any]) -> None:
    """Tool results go back in a user message; consecutive ones share it, as Anthropic asks."""
    block = {
        "type": "tool_result",
        "tool_use_id": message.get("tool_call_id"),
        "content": _content(message.get("content")),
    }
    previous = converted[-1] if converted else None
    if previous and previous["role"] == "user" and _is_tool_results(previous["content"]):
        previous["content"].append(block)
    else:
        converted.append({"role": "user", "content": [block]})


def _is_tool_results(content: Any) -> bool:
    return isinstance(content, list) and all(block.get("type") == "tool_result" for block in content)


def _tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function") or tool
    converted = {"name": function["name"], "input_schema": function.get("parameters") or {"type": "object"}}
    if function.get("description"):
        converted["description"] = function["description"]
    return converted


SERVICE_TIERS = {"auto": "auto", "default": "standard_only"}


def _refused(param: str, why: str = "has no equivalent in Anthropic's Messages API") -> ProviderError:
    return ProviderError(
        f"'{param}' {why}; the model chosen for this request is Anthropic's. Leave it out, or route "
        "the request to a model that takes it.",
        kind="bad_request",
        status=400,
    )


def _translate_params(body: dict[str, Any], request: ChatRequest) -> None:
    """OpenAI's parameters on an Anthropic body: translated where they have an equivalent, else refused."""
    fmt = (request.response_format or {}).get("type")
    if fmt not in (None, "text"):
        raise _refused("response_format", f"of type {fmt!r} has no equivalent in Anthropic's Messages API")
    params = dict(request.params)
    if "top_p" in params:
        body["top_p"] = params.pop("top_p")
    if params.pop("parallel_tool_calls", True) is False and body.get("tools"):
        body["tool_choice"] = {
            **(body.get("tool_choice") or {"type": "auto"}),
            "disable_parallel_tool_use": True,
        }
    tier = params.pop("service_tier", None)
    if tier is not None:
        if tier not in SERVICE_TIERS:
            raise _refused("service_tier", f"{tier!r} is not one of Anthropic's tiers (auto, default)")
        body["service_tier"] = SERVICE_TIERS[tier]
    if params.pop("store", False):
        raise _refused("store", "true cannot be honoured: Anthropic's Messages API stores no completions")
    identifier = params.pop("safety_identifier", None)
    if identifier and "metadata" not in body:
        body["metadata"] = {"user_id": identifier}
    if params:
        raise _refused(sorted(params)[0])


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, dict):  # {"type": "function", "function": {"name": ...}}
        return {"type": "tool", "name": (choice.get("function") or {}).get("name") or choice.get("name")}
    return {"type": {"required": "any"}.get(choice, choice)}


# -- response conversion ----------------------------------------------------------------------------


def _finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "end_turn", stop_reason or "stop")


def _usage(usage: dict[str, Any]) -> tuple[int | None, int | None]:
    """Input tokens include prompt-cache reads and writes, which Anthropic counts apart."""
    if usage.get("input_tokens") is None:
        return None, usage.get("output_tokens")
    cached = (usage.get("cache_creation_input_tokens") or 0) + (usage.get("cache_read_input_tokens") or 0)
    return usage["input_tokens"] + cached, usage.get("output_tokens")


def _tool_call(block: dict[str, Any], arguments: str) -> dict[str, Any]:
    return {
        "id": block["id"],
        "type": "function",
        "function": {"name": block["name"], "arguments": arguments},
    }


# -- stream events ----------------------------------------------------------------------------------


def _on_message_start(state: AnthropicStreamState, payload: dict[str, Any]) -> None:
    message = payload.get("message") or {}
    state.model = message.get("model") or state.model
    state.input_tokens, state.output_tokens = _usage(message.get("usage") or {})


def _on_block_start(state: AnthropicStreamState, payload: dict[str, Any]) -> StreamDelta | None:
    index, block = payload["index"], payload["content_block"]
    if block.get("type") != "tool_use":
        state.blocks[index] = {"type": block.get("type"), "text": block.get("text") or ""}
        return None
    state.tool_indexes[index] = len(state.tool_indexes)
    state.blocks[index] = {"type": "tool_use", "id": block["id"], "name": block["name"], "json": ""}
    fragment = {"index": state.tool_indexes[index], **_tool_call(block, "")}
    return StreamDelta(tool_calls=(fragment,))


def _on_block_delta(state: AnthropicStreamState, payload: dict[str, Any]) -> StreamDelta | None:
    index, delta = payload["index"], payload["delta"]
    block = state.blocks[index]
    if delta.get("type") == "text_delta":
        block["text"] += delta["text"]
        return StreamDelta(text=delta["text"]) if delta["text"] else None
    if delta.get("type") == "input_json_delta" and index in state.tool_indexes:
        block["json"] += delta["partial_json"]
        fragment = {"index": state.tool_indexes[index], "function": {"arguments": delta["partial_json"]}}
        return StreamDelta(tool_calls=(fragment,))
    return None  # thinking, signature and citation deltas carry no answer text


def _on_message_delta(state: AnthropicStreamState, payload: dict[str, Any]) -> None:
    state.stop_reason = (payload.get("delta") or {}).get("stop_reason") or state.stop_reason
    usage = payload.get("usage") or {}
    if usage.get("input_tokens") is not None:
        state.input_tokens = _usage(usage)[0]
    if usage.get("output_tokens") is not None:  # cumulative, so the last one wins
        state.output_tokens = usage["output_tokens"]


def _on_message_stop(state: AnthropicStreamState, payload: dict[str, Any]) -> None:
    state.stopped = True


def _on_error(state: AnthropicStreamState, payload: dict[str, Any]) -> None:
    error = payload.get("error") or {}
    error_type = error.get("type") or "error"
    kind, retryable = STREAM_ERRORS.get(error_type, ("stream_error", False))
    raise ProviderError(f"{error_type}: {error.get('message') or ''}", kind=kind, retryable=retryable)


_EVENT_HANDLERS = {
    "message_start": _on_message_start,
    "content_block_start": _on_block_start,
    "content_block_delta": _on_block_delta,
    "message_delta": _on_message_delta,
    "message_stop": _on_message_stop,
    "error": _on_error,
}
