"""The official `anthropic` package, pointed at routelab's base URL, works unchanged: messages, streams
and tools, answered by whichever provider the route's policy chooses (here OpenAI-compatible ones)."""

import json

import anthropic
import pytest

from devtools.serving import serve_in_thread
from routing.gateway.recorder import calls_flush
from routing.models import Call, Provider
from tests.upstreams import receive_json, route_to_upstream, send_json

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _client(asgi_server, key) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=asgi_server, api_key=key, max_retries=0)


def test_the_anthropic_package_gets_a_message_through_routelab(asgi_server, live_route):
    raw = _client(asgi_server, live_route.key).messages.with_raw_response.create(
        model="route:support-bot",
        max_tokens=200,
        messages=QUESTION,
        system="Be brief.",
        metadata={"user_id": "customer-42"},
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason in {"end_turn", "max_tokens"}
    assert message.usage.output_tokens > 0
    assert raw.headers["x-routelab-model"] == "simulator/gpt-4o-mini"
    assert calls_flush() == 1
    call = Call.objects.get()
    assert call.status == "ok" and call.model.key == "simulator/gpt-4o-mini"


def test_the_anthropic_package_streams_a_message_through_routelab(asgi_server, live_route):
    client = _client(asgi_server, live_route.key)
    prompt = [{"role": "user", "content": "Explain step by step how to implement a binary search tree."}]
    with client.messages.stream(model="route:support-bot", max_tokens=400, messages=prompt) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert len(text) > 20 and final.content[0].text == text
    assert final.stop_reason in {"end_turn", "max_tokens"} and final.usage.output_tokens > 0


def test_errors_come_back_in_anthropics_shape(asgi_server, live_route):
    with pytest.raises(anthropic.AuthenticationError) as refused:
        _client(asgi_server, "rl_wrong").messages.create(model="x", max_tokens=10, messages=QUESTION)
    assert refused.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.BadRequestError) as refused:
        _client(asgi_server, live_route.key).messages.create(
            model="route:support-bot", max_tokens=10, messages=[{"role": "system", "content": "x"}]
        )
    assert "messages.0.role" in refused.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as refused:
        _client(asgi_server, live_route.key).messages.create(
            model="route:support-bot", max_tokens=10, messages=QUESTION, extra_body={"top_k": 5}
        )
    assert "top_k" in refused.value.body["error"]["message"]


class ToolCaller:
    """An OpenAI-compatible upstream that asks for the weather tool when tools are offered, and answers
    in text once the tool's result is in the conversation; it keeps what it receives."""

    def __init__(self):
        self.bodies: list[dict] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = await receive_json(receive)
        self.bodies.append(body)
        answered = any(m.get("role") == "tool" for m in body["messages"])
        if body.get("tools") and not answered:
            call = {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
            }
            message, finish = {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls"
        else:
            message, finish = {"role": "assistant", "content": "It is sunny in Paris."}, "stop"
        answer = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
        await send_json(send, 200, answer)


@pytest.fixture
def tool_route():
    upstream = ToolCaller()
    served = serve_in_thread(upstream, name="tool-caller")
    key = route_to_upstream(
        name="tooly", kind=Provider.Kind.OPENAI_COMPATIBLE, base_url=f"{served.url}/v1", route="tools"
    )
    yield upstream, key
    served.stop()


def test_the_anthropic_package_uses_tools_through_routelab(asgi_server, tool_route):
    upstream, key = tool_route
    client = _client(asgi_server, key)
    asked = client.messages.create(
        model="tools",
        max_tokens=200,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert asked.stop_reason == "tool_use"
    tool_use = next(block for block in asked.content if block.type == "tool_use")
    assert (tool_use.name, tool_use.input, tool_use.id) == ("get_weather", {"city": "Paris"}, "call_1")
    sent = upstream.bodies[-1]
    assert sent["tools"][0]["function"]["parameters"] == WEATHER["input_schema"]
    assert sent["parallel_tool_calls"] is False and sent["tool_choice"] == "auto"

    answer = client.messages.create(
        model="tools",
        max_tokens=200,
        tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}],
            },
        ],
    )
    assert answer.content[0].text == "It is sunny in Paris." and answer.stop_reason == "end_turn"
    turns = upstream.bodies[-1]["messages"]
    assert turns[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert turns[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
