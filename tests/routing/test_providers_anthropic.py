"""The Anthropic Messages adapter against the documented wire format, through httpx.MockTransport.

Shapes follow https://docs.anthropic.com/en/api/messages, .../messages-streaming and .../errors: the
request (system, messages with text, image, tool_use and tool_result blocks, tools with input_schema,
tool_choice), the Message object, the named server-sent events, and {"type": "error", "error": {...}}.
"""

import json
from decimal import Decimal

import httpx
import pytest

from routing.providers.anthropic import AnthropicAdapter
from routing.providers.base import ChatRequest, ModelTarget, Price, ProviderError, RetryPolicy, StreamDelta
from tests.streams import stream_events

PRICE = Price(Decimal("2.50"), Decimal("10"))
CLAUDE = ModelTarget(
    "anthropic", "https://api.anthropic.com", "claude-sonnet-4-5", PRICE, api_key="sk-ant-test"
)
HELLO = ChatRequest(messages=({"role": "user", "content": "Hello"},))
PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"


def adapter(handler, retry: RetryPolicy | None = None) -> AnthropicAdapter:
    transport = httpx.MockTransport(handler)
    return AnthropicAdapter(retry=retry or RetryPolicy(max_attempts=1), transport=transport)


def message(content=None, stop_reason="end_turn", usage=(1000, 500)) -> dict:
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content if content is not None else [{"type": "text", "text": "Hi there"}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }


def sent_body(request: ChatRequest, target: ModelTarget = CLAUDE) -> dict:
    seen: list[httpx.Request] = []

    def handler(http_request):
        seen.append(http_request)
        return httpx.Response(200, json=message())

    adapter(handler).complete(target, request)
    return json.loads(seen[0].content)


def parsed(payload: dict):
    return adapter(lambda request: httpx.Response(200, json=payload)).complete(CLAUDE, HELLO)


def events(*items: dict) -> httpx.Response:
    """Server-sent events named, as Anthropic sends them, by their data's type."""
    text = "".join(f"event: {item['type']}\ndata: {json.dumps(item)}\n\n" for item in items)
    return httpx.Response(200, content=text.encode(), headers={"content-type": "text/event-stream"})


MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 1000, "output_tokens": 1},
    },
}
PING = {"type": "ping"}
MESSAGE_STOP = {"type": "message_stop"}


def text_block(index: int, *pieces: str) -> list[dict]:
    start = {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
    deltas = [
        {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": p}}
        for p in pieces
    ]
    return [start, *deltas, {"type": "content_block_stop", "index": index}]


def tool_block(index: int, tool_id: str, name: str, *fragments: str) -> list[dict]:
    block = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
    deltas = [
        {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "input_json_delta", "partial_json": f},
        }
        for f in fragments
    ]
    return [
        {"type": "content_block_start", "index": index, "content_block": block},
        *deltas,
        {"type": "content_block_stop", "index": index},
    ]


def message_delta(stop_reason="end_turn", output_tokens=500) -> dict:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }


TEXT_EVENTS = (MESSAGE_START, *text_block(0, "Hel", "lo!"), PING, message_delta(), MESSAGE_STOP)


def run_stream(claude: AnthropicAdapter, request=HELLO) -> list:
    return stream_events(claude, CLAUDE, request)


# -- requests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url", ["https://api.anthropic.com", "https://api.anthropic.com/", "https://api.anthropic.com/v1"]
)
def test_a_request_is_posted_to_v1_messages_with_the_key_and_version_headers(base_url):
    seen: list[httpx.Request] = []
    target = ModelTarget("anthropic", base_url, "claude-sonnet-4-5", PRICE, api_key="sk-ant-test")
    adapter(lambda request: seen.append(request) or httpx.Response(200, json=message())).complete(
        target, HELLO
    )
    headers = seen[0].headers
    assert str(seen[0].url) == "https://api.anthropic.com/v1/messages"
    assert (headers["x-api-key"], headers["anthropic-version"], headers["content-type"]) == (
        "sk-ant-test",
        "2023-06-01",
        "application/json",
    )
    assert "authorization" not in headers


def test_the_anthropic_version_can_be_overridden_by_the_target():
    seen: list[httpx.Request] = []
    target = ModelTarget(
        "anthropic", CLAUDE.base_url, "m", PRICE, "k", options={"anthropic_version": "2024-01-01"}
    )
    adapter(lambda request: seen.append(request) or httpx.Response(200, json=message())).complete(
        target, HELLO
    )
    assert seen[0].headers["anthropic-version"] == "2024-01-01"


def test_max_tokens_is_always_sent_and_defaults_to_the_model_limit():
    assert sent_body(HELLO) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    assert sent_body(ChatRequest(messages=HELLO.messages, max_tokens=300))["max_tokens"] == 300


def test_system_messages_become_the_top_level_system_prompt():
    request = ChatRequest(
        messages=(
            {"role": "system", "content": "Be brief."},
            {"role": "system", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hello"},
        ),
        temperature=0.3,
        stop=("###",),
        user="user-42",
    )
    body = sent_body(request)
    assert body["system"] == "Be brief.\n\nAnswer in French."
    assert body["messages"] == [{"role": "user", "content": "Hello"}]
    assert (body["temperature"], body["stop_sequences"], body["metadata"]) == (
        0.3,
        ["###"],
        {"user_id": "user-42"},
    )


def test_text_and_image_parts_become_anthropic_content_blocks():
    parts = [
        {"type": "text", "text": "What is in these?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
    ]
    body = sent_body(ChatRequest(messages=({"role": "user", "content": parts},)))
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is in these?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


def test_a_tool_conversation_becomes_tool_use_and_tool_result_blocks():
    calls = [
        {
            "id": "toolu_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {"id": "toolu_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]
    request = ChatRequest(
        messages=(
            {"role": "user", "content": "Weather and time in Paris?"},
            {"role": "assistant", "content": "Checking.", "tool_calls": calls},
            {"role": "tool", "tool_call_id": "toolu_a", "content": "18C, sunny"},
            {"role": "tool", "tool_call_id": "toolu_b", "content": "14:05"},
        )
    )
    assert sent_body(request)["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_a", "content": "18C, sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_b", "content": "14:05"},
            ],
        },
    ]


def test_openai_tools_become_anthropic_tools_with_an_input_schema():
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    tool = {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather now", "parameters": schema},
    }
    body = sent_body(ChatRequest(messages=HELLO.messages, tools=(tool,), tool_choice="auto"))
    assert body["tools"] == [{"name": "get_weather", "description": "Weather now", "input_schema": schema}]
    assert body["tool_choice"] == {"type": "auto"}


@pytest.mark.parametrize(
    ("openai_choice", "anthropic_choice"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
    ],
)
def test_each_tool_choice_is_translated(openai_choice, anthropic_choice):
    assert (
        sent_body(ChatRequest(messages=HELLO.messages, tool_choice=openai_choice))["tool_choice"]
        == anthropic_choice
    )


def test_a_streamed_request_sets_stream():
    seen: list[httpx.Request] = []
    run_stream(adapter(lambda request: seen.append(request) or events(*TEXT_EVENTS)))
    assert json.loads(seen[0].content)["stream"] is True


def test_a_content_part_anthropic_cannot_take_is_a_bad_request():
    audio = {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}}
    calls: list[httpx.Request] = []
    with pytest.raises(ProviderError) as raised:
        adapter(calls.append).complete(CLAUDE, ChatRequest(messages=({"role": "user", "content": [audio]},)))
    assert (raised.value.kind, raised.value.retryable, calls) == ("bad_request", False, [])


# -- responses --------------------------------------------------------------------------------------


def test_a_message_is_parsed_and_its_usage_priced():
    result = parsed(message(content=[{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]))
    assert (result.text, result.finish_reason, result.model) == (
        "Hi there",
        "stop",
        "claude-sonnet-4-5-20250929",
    )
    assert (result.input_tokens, result.output_tokens, result.cost) == (1000, 500, Decimal("0.0075"))


def test_tool_use_blocks_become_openai_tool_calls_with_json_string_arguments():
    content = [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    result = parsed(message(content=content, stop_reason="tool_use"))
    assert (result.text, result.finish_reason) == ("Let me check.", "tool_calls")
    call = result.tool_calls[0]
    assert (call["id"], call["type"], call["function"]["name"]) == ("toolu_01", "function", "get_weather")
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_each_stop_reason_maps_to_an_openai_finish_reason(stop_reason, finish_reason):
    assert parsed(message(stop_reason=stop_reason)).finish_reason == finish_reason


def test_prompt_cache_tokens_count_as_input_tokens():
    payload = message()
    payload["usage"].update(cache_creation_input_tokens=200, cache_read_input_tokens=300)
    assert parsed(payload).input_tokens == 1500


# -- errors -----------------------------------------------------------------------------------------


def anthropic_error(status: int, error_type: str, text: str, headers=None) -> httpx.Response:
    return httpx.Response(
        status, json={"type": "error", "error": {"type": error_type, "message": text}}, headers=headers
    )


def test_an_anthropic_error_names_its_type_and_message():
    with pytest.raises(ProviderError) as raised:
        adapter(
            lambda request: anthropic_error(400, "invalid_request_error", "max_tokens: Field required")
        ).complete(CLAUDE, HELLO)
    assert (raised.value.kind, raised.value.retryable) == ("bad_request", False)
    assert raised.value.message == "HTTP 400: invalid_request_error: max_tokens: Field required"


def test_an_overloaded_529_is_retried_then_succeeds(sleeps):
    waits = sleeps
    answers = iter(
        [
            anthropic_error(529, "overloaded_error", "Overloaded", {"retry-after": "3"}),
            httpx.Response(200, json=message()),
        ]
    )
    result = adapter(lambda request: next(answers), RetryPolicy(max_attempts=2)).complete(CLAUDE, HELLO)
    assert (result.text, result.attempts, waits) == ("Hi there", 2, [3.0])


# -- streaming --------------------------------------------------------------------------------------


def test_a_stream_yields_text_deltas_then_a_priced_result():
    items = run_stream(adapter(lambda request: events(*TEXT_EVENTS)))
    assert items[:-1] == [StreamDelta(text="Hel"), StreamDelta(text="lo!")]
    result = items[-1]
    assert (result.text, result.finish_reason, result.model) == (
        "Hello!",
        "stop",
        "claude-sonnet-4-5-20250929",
    )
    assert (result.input_tokens, result.output_tokens, result.cost) == (1000, 500, Decimal("0.0075"))


TOOL_EVENTS = (
    MESSAGE_START,
    *text_block(0, "Checking."),
    *tool_block(1, "toolu_a", "get_weather", '{"city":', ' "Paris"}'),
    *tool_block(2, "toolu_b", "get_time", ""),
    message_delta("tool_use", 80),
    MESSAGE_STOP,
)


def test_streamed_tool_input_is_assembled_into_openai_tool_calls():
    result = run_stream(adapter(lambda request: events(*TOOL_EVENTS)))[-1]
    assert (result.text, result.finish_reason, result.output_tokens) == ("Checking.", "tool_calls", 80)
    assert result.tool_calls == (
        {
            "id": "toolu_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        },
        {"id": "toolu_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    )


def test_streamed_tool_input_is_passed_on_as_openai_tool_call_deltas():
    items = run_stream(adapter(lambda request: events(*TOOL_EVENTS)))
    fragments = [fragment for item in items[:-1] for fragment in item.tool_calls]
    assert [(f["index"], f.get("id")) for f in fragments] == [
        (0, "toolu_a"),
        (0, None),
        (0, None),
        (1, "toolu_b"),
        (1, None),
    ]
    assert "".join(f["function"]["arguments"] for f in fragments if f["index"] == 0) == '{"city": "Paris"}'


def test_a_stream_without_message_stop_is_a_stream_cut():
    cut = events(MESSAGE_START, *text_block(0, "Hel"))
    with pytest.raises(ProviderError) as raised:
        run_stream(adapter(lambda request: cut))
    assert (raised.value.kind, raised.value.retryable) == ("stream_cut", False)


def overloaded_event() -> dict:
    return {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def test_an_overloaded_error_event_before_any_text_is_retried(sleeps):
    waits = sleeps
    answers = iter([events(MESSAGE_START, PING, overloaded_event()), events(*TEXT_EVENTS)])
    items = run_stream(adapter(lambda request: next(answers), RetryPolicy(max_attempts=2, base_delay=0.01)))
    assert (items[-1].text, items[-1].attempts, len(waits)) == ("Hello!", 2, 1)


def test_an_overloaded_error_event_after_text_is_raised_as_retryable_without_a_retry():
    calls: list[httpx.Request] = []
    stream = events(MESSAGE_START, *text_block(0, "Hel"), overloaded_event())
    with pytest.raises(ProviderError) as raised:
        run_stream(adapter(lambda request: calls.append(request) or stream, RetryPolicy(max_attempts=3)))
    assert (raised.value.kind, raised.value.retryable, raised.value.message) == (
        "overloaded",
        True,
        "overloaded_error: Overloaded",
    )
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("error_type", "kind", "retryable"),
    [
        ("api_error", "server_error", True),
        ("invalid_request_error", "bad_request", False),
        ("mystery_error", "stream_error", False),
    ],
)
def test_error_events_are_classified_by_their_type(error_type, kind, retryable):
    stream = events(MESSAGE_START, {"type": "error", "error": {"type": error_type, "message": "x"}})
    with pytest.raises(ProviderError) as raised:
        run_stream(adapter(lambda request: stream))
    assert (raised.value.kind, raised.value.retryable) == (kind, retryable)


def test_unknown_event_types_are_ignored():
    novel = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "hmm"},
    }
    stream = events(
        MESSAGE_START,
        *text_block(0, "ok")[:2],
        novel,
        {"type": "brand_new_event"},
        message_delta(),
        MESSAGE_STOP,
    )
    assert run_stream(adapter(lambda request: stream))[-1].text == "ok"
