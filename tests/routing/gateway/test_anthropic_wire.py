"""Anthropic's Messages shapes to and from the request path's OpenAI shapes (gateway/anthropic_wire.py)."""

import json
from decimal import Decimal

import pytest

from routing.gateway.anthropic_wire import StreamWriter, chat_body_from, message_body
from routing.gateway.chat_body import BodyError, validate_chat_body
from routing.providers.base import CompletionResult, StreamDelta
from tests.streams import named_events

PNG = {"type": "base64", "media_type": "image/png", "data": "AAAA"}
CAT = {"type": "text", "text": "a cat"}


def test_a_conversation_with_system_blocks_images_and_tool_results_becomes_openais_messages():
    body = chat_body_from(
        {
            "max_tokens": 100,
            "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "source": PNG},
                ]},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "t1", "name": "zoom", "input": {"level": 2}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": [CAT]},
                    {"type": "text", "text": "And now?"},
                ]},
            ],
            "stop_sequences": ["END"],
            "metadata": {"user_id": "u-1"},
        }
    )  # fmt: skip
    assert validate_chat_body(body)  # the rest of the path takes it as any chat body
    messages = body["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief.\nBe kind."}
    assert messages[1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64,AAAA"},
    }
    assert messages[2]["tool_calls"][0]["function"] == {"name": "zoom", "arguments": '{"level": 2}'}
    assert messages[3] == {"role": "tool", "tool_call_id": "t1", "content": "a cat"}  # before the user's text
    assert messages[4] == {"role": "user", "content": [{"type": "text", "text": "And now?"}]}
    assert (body["stop"], body["user"], body["max_tokens"]) == (["END"], "u-1", 100)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
        ({"max_tokens": 5, "messages": [{"role": "system", "content": "hi"}]}, "messages.0.role"),
        ({"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "top_k": 3}, "top_k"),
        (
            {"max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_use"}]}]},
            "messages.0.content.0.type",
        ),
        (
            {"max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], "tool_choice": {"type": "x"}},
            "tool_choice.type",
        ),
    ],
)
def test_a_bad_field_is_named(data, path):
    with pytest.raises(BodyError) as refused:
        chat_body_from(data)
    assert refused.value.path == path


def _result(**fields) -> CompletionResult:
    base = dict(
        text="",
        finish_reason="stop",
        input_tokens=7,
        output_tokens=3,
        cost=Decimal(0),
        latency_ms=1.0,
        model="m",
    )
    return CompletionResult(**{**base, **fields})


def test_an_answer_with_a_tool_call_is_a_message_with_a_tool_use_block():
    call = {"id": "c1", "type": "function", "function": {"name": "zoom", "arguments": '{"level": 2}'}}
    body = message_body("abc", _result(text="Looking.", tool_calls=(call,), finish_reason="tool_calls"))
    assert body["content"] == [
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "c1", "name": "zoom", "input": {"level": 2}},
    ]
    assert body["stop_reason"] == "tool_use" and body["usage"] == {"input_tokens": 7, "output_tokens": 3}


def test_a_stream_of_text_then_a_tool_call_is_two_content_blocks():
    writer = StreamWriter("abc", "m")
    chunks = [writer.start()]
    chunks += writer.delta(StreamDelta(text="Look"))
    chunks += writer.delta(StreamDelta(text="ing."))
    first = {"index": 0, "id": "c1", "function": {"name": "zoom", "arguments": '{"lev'}}
    chunks += writer.delta(StreamDelta(tool_calls=(first,)))
    chunks += writer.delta(StreamDelta(tool_calls=({"index": 0, "function": {"arguments": 'el": 2}'}},)))
    chunks += writer.finish(_result(text="Looking.", finish_reason="tool_calls"))

    events = named_events(chunks)
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    ]  # fmt: skip
    assert events[5][1]["content_block"] == {"type": "tool_use", "id": "c1", "name": "zoom", "input": {}}
    partial = "".join(data["delta"]["partial_json"] for name, data in events[6:8])
    assert json.loads(partial) == {"level": 2} and events[6][1]["index"] == 1
    assert events[9][1]["delta"]["stop_reason"] == "tool_use"
