"""OpenAI chat completions and embeddings, and everything that speaks them: vLLM, Ollama, LiteLLM,
llama.cpp, the simulator.

Request and response shapes follow https://platform.openai.com/docs/api-reference/chat. Streaming is
server-sent events of `chat.completion.chunk` objects ended by `data: [DONE]`; with
`stream_options.include_usage` the last chunk before [DONE] has empty `choices` and the usage.
Embeddings follow https://platform.openai.com/docs/api-reference/embeddings, asked for as floats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from routing.providers.base import (
    ChatRequest,
    EmbeddingRequest,
    ModelTarget,
    ParsedCompletion,
    ParsedEmbeddings,
    ProviderAdapter,
    ProviderError,
    StreamDelta,
    json_object,
)

# Error types, in an `error` object sent inside a stream, that are worth another attempt, and their kind.
RETRYABLE_ERROR_KINDS = {
    "server_error": "server_error",
    "overloaded_error": "overloaded",
    "rate_limit_exceeded": "rate_limit",
    "timeout": "timeout",
}


@dataclass
class OpenAIStreamState:
    model: str
    text: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    quality: float | None = None
    done: bool = False


class OpenAIAdapter(ProviderAdapter):
    kind = "openai"
    serves_embeddings = True

    # -- request ------------------------------------------------------------------------------------

    def endpoint(self, target: ModelTarget) -> str:
        return target.base_url.rstrip("/") + "/chat/completions"

    def headers(self, target: ModelTarget) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        if organization := target.options.get("organization"):
            headers["OpenAI-Organization"] = organization
        headers.update(target.options.get("headers") or {})
        return headers

    def build_body(self, target: ModelTarget, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": target.model_id, "messages": list(request.messages)}
        body.update(
            {key: value for key, value in _optional_fields(target, request).items() if value is not None}
        )
        body.update(request.params)  # OpenAI's own parameters, as the client sent them
        if stream:
            body.update(stream=True, stream_options={"include_usage": True})
        return body

    def embeddings_endpoint(self, target: ModelTarget) -> str:
        return target.base_url.rstrip("/") + "/embeddings"

    def build_embeddings_body(self, target: ModelTarget, request: EmbeddingRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"model": target.model_id, "input": list(request.inputs)}
        body["encoding_format"] = "float"
        optional = {"dimensions": request.dimensions, "user": request.user}
        return body | {key: value for key, value in optional.items() if value is not None}

    # -- response -----------------------------------------------------------------------------------

    def parse_embeddings(self, target: ModelTarget, payload: dict[str, Any]) -> ParsedEmbeddings:
        items = sorted(payload["data"], key=lambda item: item.get("index", 0))
        vectors = tuple(tuple(float(x) for x in item["embedding"]) for item in items)
        input_tokens, _ = _usage(payload.get("usage"))
        return ParsedEmbeddings(vectors, input_tokens, payload.get("model") or target.model_id)

    def parse_response(self, target: ModelTarget, payload: dict[str, Any]) -> ParsedCompletion:
        choice = payload["choices"][0]
        message = choice.get("message") or {}
        input_tokens, output_tokens = _usage(payload.get("usage"))
        return ParsedCompletion(
            text=message.get("content") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model=payload.get("model") or target.model_id,
            tool_calls=tuple(message.get("tool_calls") or ()),
            quality=_simulator_quality(payload),
            logprobs=choice.get("logprobs"),
        )

    def error_message(self, response: httpx.Response) -> str:
        error = json_object(response).get("error")
        if isinstance(error, str):  # Ollama and some proxies: {"error": "model not found"}
            return f"HTTP {response.status_code}: {error}"
        if not isinstance(error, dict):
            return super().error_message(response)
        return f"HTTP {response.status_code}: {error.get('type') or 'error'}: {error.get('message') or ''}"

    # -- streaming ----------------------------------------------------------------------------------

    def new_stream_state(self, target: ModelTarget) -> OpenAIStreamState:
        return OpenAIStreamState(model=target.model_id)

    def parse_stream_event(
        self, state: OpenAIStreamState, event: str | None, data: str
    ) -> StreamDelta | None:
        if data == "[DONE]":
            state.done = True
            return None
        chunk = json.loads(data)
        if chunk.get("error"):
            raise _stream_error(chunk["error"])
        _fold_chunk_metadata(state, chunk)
        choices = chunk.get("choices") or []
        return _fold_choice(state, choices[0]) if choices else None

    def finish_stream(self, state: OpenAIStreamState) -> ParsedCompletion:
        if not state.done and state.finish_reason is None:
            raise ProviderError("stream ended before [DONE]", kind="stream_cut", retryable=False)
        input_tokens, output_tokens = _usage(state.usage)
        return ParsedCompletion(
            text="".join(state.text),
            finish_reason=state.finish_reason or "stop",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model=state.model,
            tool_calls=tuple(state.tool_calls[index] for index in sorted(state.tool_calls)),
            quality=state.quality,
        )


def _optional_fields(target: ModelTarget, request: ChatRequest) -> dict[str, Any]:
    # OpenAI deprecated max_tokens for max_completion_tokens; compatible servers still read max_tokens.
    max_tokens_key = "max_completion_tokens" if target.provider_kind == "openai" else "max_tokens"
    return {
        "temperature": request.temperature,
        max_tokens_key: request.max_tokens,
        "tools": list(request.tools) if request.tools else None,
        "tool_choice": request.tool_choice,
        "stop": list(request.stop) if request.stop else None,
        "user": request.user,
        "response_format": request.response_format,
    }


def _usage(usage: dict[str, Any] | None) -> tuple[int | None, int | None]:
    usage = usage or {}
    return usage.get("prompt_tokens"), usage.get("completion_tokens")


def _simulator_quality(payload: dict[str, Any]) -> float | None:
    simulator = payload.get("simulator")
    if not isinstance(simulator, dict) or simulator.get("quality") is None:
        return None
    return float(simulator["quality"])


def _fold_chunk_metadata(state: OpenAIStreamState, chunk: dict[str, Any]) -> None:
    state.model = chunk.get("model") or state.model
    if chunk.get("usage"):
        state.usage = chunk["usage"]
    quality = _simulator_quality(chunk)
    state.quality = state.quality if quality is None else quality


def _fold_choice(state: OpenAIStreamState, choice: dict[str, Any]) -> StreamDelta | None:
    if choice.get("finish_reason"):
        state.finish_reason = choice["finish_reason"]
    delta = choice.get("delta") or {}
    text = delta.get("content") or ""
    fragments = tuple(delta.get("tool_calls") or ())
    logprobs = choice.get("logprobs")
    if text:
        state.text.append(text)
    for fragment in fragments:
        _merge_tool_call(state.tool_calls, fragment)
    if not (text or fragments or logprobs):
        return None
    return StreamDelta(text=text, tool_calls=fragments, logprobs=logprobs)


def _merge_tool_call(calls: dict[int, dict[str, Any]], fragment: dict[str, Any]) -> None:
    """The first fragment of a call carries its id and name; later ones carry pieces of the arguments."""
    call = calls.setdefault(
        fragment.get("index", 0), {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
    )
    call["id"] = fragment.get("id") or call["id"]
    function = fragment.get("function") or {}
    call["function"]["name"] = function.get("name") or call["function"]["name"]
    call["function"]["arguments"] += function.get("arguments") or ""


def _stream_error(error: Any) -> ProviderError:
    if not isinstance(error, dict):
        return ProviderError(f"error in stream: {error}", kind="server_error", retryable=True)
    error_type = error.get("type") or "server_error"
    return ProviderError(
        f"error in stream: {error_type}: {error.get('message') or ''}",
        kind=RETRYABLE_ERROR_KINDS.get(error_type, "bad_request"),
        retryable=error_type in RETRYABLE_ERROR_KINDS,
    )
