"""The OpenAI chat completions adapter against the documented wire format, through httpx.MockTransport.

Shapes follow https://platform.openai.com/docs/api-reference/chat (create, the chat completion object and
the chunk object, `stream_options.include_usage`).
"""

import json
from decimal import Decimal

import httpx
import pytest

from routing.providers.base import ChatRequest, ModelTarget, Price, ProviderError, RetryPolicy, StreamDelta
from routing.providers.openai import OpenAIAdapter
from tests.streams import stream_events

PRICE = Price(Decimal("2.50"), Decimal("10"))
OPENAI = ModelTarget("openai", "https://api.openai.com/v1/", "gpt-4o", PRICE, api_key="sk-test")
VLLM = ModelTarget("openai_compatible", "http://127.0.0.1:8000/v1", "qwen2.5-7b", PRICE)
HELLO = ChatRequest(messages=({"role": "user", "content": "Hello"},))
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def adapter(handler, retry: RetryPolicy | None = None) -> OpenAIAdapter:
    transport = httpx.MockTransport(handler)
    return OpenAIAdapter(retry=retry or RetryPolicy(max_attempts=1), transport=transport)


def recording(response: httpx.Response) -> tuple[list[httpx.Request], object]:
    seen: list[httpx.Request] = []

    def handler(request):
        seen.append(request)
        return response

    return seen, handler


def completion(content="Hi there", finish_reason="stop", usage=(1000, 500), **extra) -> dict:
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish_reason}
        ],
        **extra,
    }
    if usage:
        payload["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": sum(usage),
        }
    return payload


def chunk(delta=None, finish_reason=None, **extra) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-2024-08-06",
        "choices": choices,
        **extra,
    }


def sse(*chunks: dict, done=True) -> httpx.Response:
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks] + (["data: [DONE]\n\n"] if done else [])
    return httpx.Response(200, content="".join(lines).encode(), headers={"content-type": "text/event-stream"})


USAGE_CHUNK = chunk(usage={"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500})
TEXT_STREAM = (
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Hel"}),
    chunk({"content": "lo!"}),
    chunk({}, finish_reason="stop"),
    USAGE_CHUNK,
)


def run_stream(openai: OpenAIAdapter, target=OPENAI, request=HELLO) -> list:
    return stream_events(openai, target, request)


# -- requests ---------------------------------------------------------------------------------------


def test_a_request_is_posted_to_chat_completions_with_a_bearer_key_and_json():
    seen, handler = recording(httpx.Response(200, json=completion()))
    adapter(handler).complete(OPENAI, HELLO)
    request = seen[0]
    assert (request.method, str(request.url)) == ("POST", "https://api.openai.com/v1/chat/completions")
    assert (request.headers["authorization"], request.headers["content-type"]) == (
        "Bearer sk-test",
        "application/json",
    )


def test_the_organization_and_extra_headers_of_the_target_are_sent():
    target = ModelTarget(
        "openai",
        OPENAI.base_url,
        "gpt-4o",
        PRICE,
        "sk",
        options={"organization": "org-1", "headers": {"X-Team": "ml"}},
    )
    seen, handler = recording(httpx.Response(200, json=completion()))
    adapter(handler).complete(target, HELLO)
    assert (seen[0].headers["openai-organization"], seen[0].headers["x-team"]) == ("org-1", "ml")


def test_a_server_without_a_key_gets_no_authorization_header():
    seen, handler = recording(httpx.Response(200, json=completion()))
    adapter(handler).complete(VLLM, HELLO)
    assert (str(seen[0].url), "authorization" in seen[0].headers) == (
        "http://127.0.0.1:8000/v1/chat/completions",
        False,
    )


def test_a_minimal_request_sends_only_the_model_and_messages():
    seen, handler = recording(httpx.Response(200, json=completion()))
    adapter(handler).complete(OPENAI, HELLO)
    assert json.loads(seen[0].content) == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hello"}],
    }


def test_openai_gets_max_completion_tokens_and_every_option_that_is_set():
    request = ChatRequest(
        messages=({"role": "system", "content": "Be brief"}, {"role": "user", "content": "Weather?"}),
        temperature=0.2,
        max_tokens=256,
        tools=(WEATHER_TOOL,),
        tool_choice="auto",
        stop=("END",),
        user="user-42",
        response_format={"type": "json_object"},
    )
    seen, handler = recording(httpx.Response(200, json=completion()))
    adapter(handler).complete(OPENAI, request)
    assert json.loads(seen[0].content) == {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Weather?"}],
        "temperature": 0.2,
        "max_completion_tokens": 256,
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
        "stop": ["END"],
        "user": "user-42",
        "response_format": {"type": "json_object"},
    }


@pytest.mark.parametrize("kind", ["openai_compatible", "simulator"])
def test_compatible_servers_get_max_tokens(kind):
    target = ModelTarget(kind, VLLM.base_url, "m", PRICE)
    seen, handler = recording(httpx.Response(200, json=completion()))
    adapter(handler).complete(target, ChatRequest(messages=HELLO.messages, max_tokens=64, temperature=0))
    body = json.loads(seen[0].content)
    assert (body["max_tokens"], body["temperature"], "max_completion_tokens" in body) == (64, 0, False)


def test_a_streamed_request_asks_for_the_usage_chunk():
    seen, handler = recording(sse(*TEXT_STREAM))
    run_stream(adapter(handler))
    body = json.loads(seen[0].content)
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})


# -- responses --------------------------------------------------------------------------------------


def test_a_completion_is_parsed_and_its_usage_priced():
    result = adapter(lambda request: httpx.Response(200, json=completion())).complete(OPENAI, HELLO)
    assert (result.text, result.finish_reason, result.model) == ("Hi there", "stop", "gpt-4o-2024-08-06")
    assert (result.input_tokens, result.output_tokens, result.cost) == (1000, 500, Decimal("0.0075"))


def test_tool_calls_are_returned_when_the_content_is_null():
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
    }
    payload = completion(content=None, finish_reason="tool_calls")
    payload["choices"][0]["message"]["tool_calls"] = [call]
    result = adapter(lambda request: httpx.Response(200, json=payload)).complete(OPENAI, HELLO)
    assert (result.text, result.finish_reason, result.tool_calls) == ("", "tool_calls", (call,))


def test_the_simulator_quality_is_carried_into_the_result():
    payload = completion(simulator={"quality": 0.83, "latency_ms": 120})
    result = adapter(lambda request: httpx.Response(200, json=payload)).complete(OPENAI, HELLO)
    assert result.quality == 0.83


def test_a_completion_without_quality_has_none():
    assert (
        adapter(lambda request: httpx.Response(200, json=completion())).complete(OPENAI, HELLO).quality
        is None
    )


def test_a_completion_without_usage_is_estimated_from_characters():
    payload = completion(content="twelve chars", usage=None)
    result = adapter(lambda request: httpx.Response(200, json=payload)).complete(VLLM, HELLO)
    assert (result.input_tokens, result.output_tokens) == (2, 3)  # ceil(5 / 4), ceil(12 / 4)


# -- errors -----------------------------------------------------------------------------------------


def openai_error(status: int, message: str, error_type: str, code=None, headers=None) -> httpx.Response:
    body = {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    return httpx.Response(status, json=body, headers=headers)


def test_an_openai_error_names_its_type_and_message():
    response = openai_error(401, "Incorrect API key provided", "invalid_request_error", "invalid_api_key")
    with pytest.raises(ProviderError) as raised:
        adapter(lambda request: response).complete(OPENAI, HELLO)
    error = raised.value
    assert (error.kind, error.retryable, error.status) == ("auth", False, 401)
    assert error.message == "HTTP 401: invalid_request_error: Incorrect API key provided"


def test_a_rate_limit_error_is_retryable_with_its_retry_after():
    response = openai_error(
        429, "Rate limit reached", "requests", "rate_limit_exceeded", {"retry-after-ms": "20"}
    )
    with pytest.raises(ProviderError) as raised:
        adapter(lambda request: response).complete(OPENAI, HELLO)
    assert (raised.value.kind, raised.value.retryable, raised.value.retry_after) == ("rate_limit", True, 0.02)


def test_an_error_body_that_is_not_json_is_quoted_as_text():
    response = httpx.Response(502, text="<html>Bad gateway</html>")
    with pytest.raises(ProviderError) as raised:
        adapter(lambda request: response).complete(OPENAI, HELLO)
    assert (raised.value.message, raised.value.retryable) == ("HTTP 502: <html>Bad gateway</html>", True)


def test_an_ollama_style_string_error_is_quoted():
    response = httpx.Response(404, json={"error": "model 'llama9' not found"})
    with pytest.raises(ProviderError) as raised:
        adapter(lambda request: response).complete(VLLM, HELLO)
    assert (raised.value.kind, raised.value.message) == ("not_found", "HTTP 404: model 'llama9' not found")


def test_a_429_is_retried_and_then_succeeds(sleeps):
    waits = sleeps
    answers = iter(
        [
            openai_error(429, "slow down", "requests", headers={"Retry-After": "1"}),
            httpx.Response(200, json=completion()),
        ]
    )
    result = adapter(lambda request: next(answers), RetryPolicy(max_attempts=3)).complete(OPENAI, HELLO)
    assert (result.text, result.attempts, waits) == ("Hi there", 2, [1.0])


# -- streaming --------------------------------------------------------------------------------------


def test_a_stream_yields_text_deltas_then_a_priced_result():
    items = run_stream(adapter(lambda request: sse(*TEXT_STREAM)))
    assert items[:-1] == [StreamDelta(text="Hel"), StreamDelta(text="lo!")]
    result = items[-1]
    assert (result.text, result.finish_reason, result.model) == ("Hello!", "stop", "gpt-4o-2024-08-06")
    assert (result.input_tokens, result.output_tokens, result.cost) == (1000, 500, Decimal("0.0075"))


def tool_delta(index: int, arguments: str, call_id: str | None = None, name: str | None = None) -> dict:
    """A tool_calls delta: the first of a call carries its id, type and name, the rest only arguments."""
    fragment = {"index": index, "function": {"arguments": arguments}}
    if call_id:
        fragment.update(id=call_id, type="function", function={"name": name, "arguments": arguments})
    return chunk({"tool_calls": [fragment]})


def tool_call_stream() -> tuple[dict, ...]:
    """Two parallel tool calls whose argument fragments interleave, as OpenAI streams them."""
    return (
        chunk({"role": "assistant", "content": None}),
        tool_delta(0, "", "call_a", "get_weather"),
        tool_delta(0, '{"city":'),
        tool_delta(1, "", "call_b", "get_time"),
        tool_delta(1, '{"tz":"CET"}'),
        tool_delta(0, '"Paris"}'),
        chunk({}, finish_reason="tool_calls"),
        USAGE_CHUNK,
    )


def test_streamed_tool_call_fragments_are_accumulated_by_index():
    items = run_stream(adapter(lambda request: sse(*tool_call_stream())))
    result = items[-1]
    assert (result.finish_reason, result.text) == ("tool_calls", "")
    assert result.tool_calls == (
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        },
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz":"CET"}'}},
    )


def test_streamed_tool_call_fragments_are_passed_on_as_deltas():
    items = run_stream(adapter(lambda request: sse(*tool_call_stream())))
    fragments = [fragment for item in items[:-1] for fragment in item.tool_calls]
    assert [f["index"] for f in fragments] == [0, 0, 1, 1, 0]
    assert "".join(f["function"]["arguments"] for f in fragments if f["index"] == 0) == '{"city":"Paris"}'


def test_a_stream_cut_before_done_and_finish_reason_is_a_stream_cut():
    cut = sse(chunk({"content": "Hel"}), chunk({"content": "lo"}), done=False)
    with pytest.raises(ProviderError) as raised:
        run_stream(adapter(lambda request: cut))
    assert (raised.value.kind, raised.value.retryable) == ("stream_cut", False)


def test_a_stream_with_a_finish_reason_but_no_done_still_completes():
    items = run_stream(
        adapter(lambda request: sse(chunk({"content": "ok"}, finish_reason="length"), done=False))
    )
    assert (items[-1].text, items[-1].finish_reason) == ("ok", "length")


def test_a_stream_that_never_reports_usage_is_estimated_from_characters():
    request = ChatRequest(
        messages=({"role": "system", "content": "Be kind"}, {"role": "user", "content": "Hi you"})
    )
    stream = sse(chunk({"content": "Hello, friend"}), chunk({}, finish_reason="stop"))
    result = run_stream(adapter(lambda r: stream), VLLM, request)[-1]
    assert (result.input_tokens, result.output_tokens) == (4, 4)  # ceil(13 / 4), ceil(13 / 4)
    assert result.cost == PRICE.cost(4, 4)


def test_the_simulator_quality_in_a_stream_is_carried_into_the_result():
    stream = sse(
        chunk({"content": "x"}, finish_reason="stop"),
        chunk(usage=USAGE_CHUNK["usage"], simulator={"quality": 0.4}),
    )
    assert run_stream(adapter(lambda request: stream))[-1].quality == 0.4


def test_an_error_object_inside_a_stream_raises_a_classified_error():
    stream = sse(
        chunk({"content": "par"}), {"error": {"message": "The server had an error", "type": "server_error"}}
    )
    with pytest.raises(ProviderError) as raised:
        run_stream(adapter(lambda request: stream))
    assert (raised.value.kind, raised.value.retryable) == ("server_error", True)
    assert "The server had an error" in raised.value.message


def test_a_streamed_request_that_fails_reports_the_openai_error():
    response = openai_error(400, "Invalid 'messages'", "invalid_request_error")
    with pytest.raises(ProviderError) as raised:
        run_stream(adapter(lambda request: response))
    assert (raised.value.status, raised.value.message) == (
        400,
        "HTTP 400: invalid_request_error: Invalid 'messages'",
    )
