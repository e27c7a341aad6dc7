"""OpenAI's Responses shapes to and from the request path's chat shapes (gateway/responses_wire.py), and
POST /v1/responses refusing what it cannot honour with a 400 naming it, and recording its call."""

import json
from decimal import Decimal

import pytest

from routing.gateway.chat_body import BodyError, validate_chat_body
from routing.gateway.recorder import calls_flush
from routing.gateway.responses_wire import StreamWriter, chat_body_from, response_body
from routing.models import Call
from routing.providers.base import CompletionResult, StreamDelta
from tests.streams import named_events

WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}, "strict": True}
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def _result(**fields) -> CompletionResult:
    base = dict(
        text="", finish_reason="stop", input_tokens=7, output_tokens=3, cost=Decimal(0), latency_ms=1.0
    )
    return CompletionResult(**{**base, "model": "m", **fields})


def test_a_conversation_with_instructions_images_and_a_tool_round_becomes_chat_messages():
    body = chat_body_from(
        {
            "model": "route:bot",
            "instructions": "Be brief.",
            "input": [
                {"role": "user", "content": [
                    {"type": "input_text", "text": "Weather where this is?"},
                    {"type": "input_image", "image_url": "https://example.com/paris.png"},
                ]},
                {"role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
                {"type": "function_call", "call_id": "call_2", "name": "get_time", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            ],
            "tools": [WEATHER],
            "tool_choice": {"type": "function", "name": "get_weather"},
            "max_output_tokens": 100,
            "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
            "store": False,
            "user": "u1",
        }
    )  # fmt: skip
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "text", "text": "Weather where this is?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/paris.png", "detail": "auto"}},
        ]},
        {"role": "assistant", "content": "Looking."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]  # fmt: skip
    function = {"name": "get_weather", "parameters": {"type": "object"}, "strict": True}
    assert body["tools"] == [{"type": "function", "function": function}]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["max_completion_tokens"] == 100 and body["user"] == "u1" and "store" not in body
    schema = {"name": "w", "schema": {"type": "object"}}
    assert body["response_format"] == {"type": "json_schema", "json_schema": schema}
    validate_chat_body(body)  # the chat path takes it as it is


def test_a_string_input_is_one_user_message_and_json_object_format_asks_for_json():
    body = chat_body_from({"input": "hi", "text": {"format": {"type": "json_object"}}, "temperature": 0.2})
    assert body == {
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "response_format": {"type": "json_object"},
    }


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({}, "input"),
        ({"input": "hi", "previous_response_id": "resp_1"}, "previous_response_id"),
        ({"input": "hi", "background": True}, "background"),
        ({"input": "hi", "store": True}, "store"),
        ({"input": "hi", "reasoning": {"effort": "low"}}, "reasoning"),
        ({"input": "hi", "top_k": 3}, "top_k"),
        ({"input": "hi", "tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": "hi", "tools": [{"type": "function"}]}, "tools[0].name"),
        ({"input": "hi", "tool_choice": {"type": "file_search"}}, "tool_choice"),
        ({"input": "hi", "text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"input": "hi", "text": {"colour": "red"}}, "text.colour"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "reasoning", "summary": []}]}, "input[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
        ),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        (
            {"input": [{"role": "system", "content": [{"type": "input_image", "image_url": "u"}]}]},
            "input[0].content",
        ),
        ({"input": []}, "input"),
        ([], ""),
    ],
)
def test_a_bad_or_unsupported_field_is_named(data, path):
    with pytest.raises(BodyError) as refused:
        chat_body_from(data)
    assert refused.value.path == path


def test_an_answer_with_text_and_a_tool_call_is_a_message_item_and_a_function_call_item():
    body = response_body("abc", _result(text="Looking.", tool_calls=(CALL,), finish_reason="tool_calls"), {})
    assert body["object"] == "response" and body["status"] == "completed" and body["id"] == "resp_abc"
    message, call = body["output"]
    assert message["type"] == "message" and message["content"][0]["type"] == "output_text"
    assert message["content"][0]["text"] == "Looking."
    assert (call["type"], call["call_id"], call["name"]) == ("function_call", "call_1", "get_weather")
    assert call["arguments"] == '{"city": "Paris"}'
    assert body["usage"]["total_tokens"] == 10 and body["usage"]["input_tokens"] == 7


def test_an_answer_cut_by_max_output_tokens_is_incomplete():
    body = response_body("abc", _result(text="Long", finish_reason="length"), {})
    assert body["status"] == "incomplete" and body["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_stream_of_text_then_a_tool_call_is_two_output_items_numbered_in_sequence():
    writer = StreamWriter("abc", "m", {})
    chunks = writer.start()
    chunks += writer.delta(StreamDelta(text="Look"))
    chunks += writer.delta(StreamDelta(text="ing."))
    first = {"index": 0, "id": "call_1", "function": {"name": "get_weather", "arguments": '{"ci'}}
    chunks += writer.delta(StreamDelta(tool_calls=(first,)))
    chunks += writer.delta(
        StreamDelta(tool_calls=({"index": 0, "function": {"arguments": 'ty": "Paris"}'}},))
    )
    chunks += writer.finish(_result(text="Looking.", tool_calls=(CALL,), finish_reason="tool_calls"))

    events = named_events(chunks)
    assert [name for name, _ in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed",
    ]  # fmt: skip
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert all(data["type"] == name for name, data in events)
    assert events[6][1]["text"] == "Looking." and events[9][1]["output_index"] == 1
    assert events[12][1]["arguments"] == '{"city": "Paris"}'
    done = events[13][1]["item"]
    assert done["call_id"] == "call_1" and done["status"] == "completed"
    final = events[-1][1]["response"]
    assert [item["id"] for item in final["output"]] == [events[8][1]["item"]["id"], done["id"]]


def _post(client, live_route, body: dict):
    return client.post(
        "/v1/responses", data=json.dumps(body), content_type="application/json", **live_route.auth
    )


@pytest.mark.django_db
def test_the_endpoint_answers_and_records_one_call(client, live_route):
    response = _post(
        client, live_route, {"model": "route:support-bot", "input": "What is the capital of France?"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["output"][0]["content"][0]["text"]
    assert calls_flush() == 1
    call = Call.objects.get()
    assert call.status == "ok" and call.output_tokens == response.json()["usage"]["output_tokens"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi", "previous_response_id": "resp_1"}, "previous_response_id"),
        ({"input": "hi", "tools": [{"type": "web_search_preview"}]}, "tools[0].type"),
        ({"input": "hi", "temperature": 7}, "temperature"),
        ({"input": "hi", "wibble": 1}, "wibble"),
    ],
)
def test_the_endpoint_refuses_with_a_400_naming_the_field(client, live_route, body, param):
    response = _post(client, live_route, body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param and param in response.json()["error"]["message"]
    assert response.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.django_db
def test_other_paths_and_methods_answer_in_openais_error_shape(client, live_route):
    missing = client.get("/v1/responses/resp_1", **live_route.auth)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    wrong = client.get("/v1/responses", **live_route.auth)
    assert wrong.status_code == 405 and wrong.json()["error"]["message"] == "Use POST."
    garbled = client.post("/v1/responses", data="{", content_type="application/json", **live_route.auth)
    assert garbled.status_code == 400 and "not valid JSON" in garbled.json()["error"]["message"]
