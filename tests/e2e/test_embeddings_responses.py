"""The official `openai` package, pointed at routelab's base URL, creates embeddings and responses
(text, a tool call, a stream) unchanged; each call leaves one call row."""

import base64
import json
import struct
from decimal import Decimal

import openai
import pytest

from devtools.simulator.embeddings_api import vector
from routing import services
from routing.gateway.recorder import calls_flush
from routing.models import Call
from tests.e2e import test_anthropic_client
from tests.factories import embedding_model_create

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SIMULATOR_SEED = 7  # tests/conftest.py's simulator
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}

tool_route = test_anthropic_client.tool_route  # the tool-calling upstream and its route, reused


@pytest.fixture
def embedding_route(live_route):
    """`live_route`'s simulator with its embedding model registered, and a route `search` whose policy
    names it (after a chat model, which an embeddings request must skip)."""
    model = embedding_model_create(
        provider=live_route.models[0].provider, model_id="text-embedding-3-small", input_price="0.02"
    )
    route = services.route_create(name="search")
    spec = {
        "kind": "rules",
        "rules": [],
        "default": "simulator/gpt-4o-mini",
        "default_fallbacks": [model.key],
    }
    services.policy_create(route=route, name="embed", spec=spec)
    _, key = services.api_key_create(name="search app", routes=[route, live_route.route])
    return key


def _client(asgi_server, key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{asgi_server}/v1", api_key=key, max_retries=0)


def test_the_openai_package_creates_embeddings_through_routelab(asgi_server, embedding_route):
    raw = _client(asgi_server, embedding_route).embeddings.with_raw_response.create(
        model="route:search", input=["routing saves money", "hello"], user="customer-42"
    )
    created = raw.parse()
    assert [item.index for item in created.data] == [0, 1]
    expected = vector(SIMULATOR_SEED, "text-embedding-3-small", "hello", 1536)
    assert created.data[1].embedding == pytest.approx(expected, abs=1e-6)
    assert created.model == "text-embedding-3-small" and created.usage.prompt_tokens == 7
    assert raw.headers["x-routelab-model"] == "simulator/text-embedding-3-small"
    assert calls_flush() == 1
    call = Call.objects.get()
    assert call.status == "ok" and call.model.key == "simulator/text-embedding-3-small"
    assert (call.input_tokens, call.output_tokens) == (7, 0)
    assert call.cost == Decimal("0.00000014")  # 7 tokens at $0.02 per million


def test_embeddings_come_as_base64_and_shortened_when_asked(asgi_server, embedding_route):
    created = _client(asgi_server, embedding_route).embeddings.create(
        model="route:search", input="hello", dimensions=8, encoding_format="base64"
    )
    expected = vector(SIMULATOR_SEED, "text-embedding-3-small", "hello", 8)
    packed = base64.b64decode(created.data[0].embedding)  # little-endian float32, as OpenAI's
    assert struct.unpack("<8f", packed) == pytest.approx(expected, abs=1e-6)


def test_embeddings_refuse_token_arrays_and_routes_without_an_embedding_model(asgi_server, embedding_route):
    client = _client(asgi_server, embedding_route)
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="route:search", input=[[1, 2, 3]])
    assert "Token arrays are not supported" in refused.value.body["message"]
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="route:support-bot", input="hello")
    assert "names no embedding model" in refused.value.body["message"]
    assert refused.value.body["param"] == "model"


def test_the_openai_package_creates_a_response_through_routelab(asgi_server, live_route):
    raw = _client(asgi_server, live_route.key).responses.with_raw_response.create(
        model="route:support-bot",
        instructions="Be brief.",
        input="What is the capital of France?",
        max_output_tokens=200,
        user="customer-42",
    )
    response = raw.parse()
    assert response.object == "response" and response.status == "completed"
    assert response.output[0].type == "message" and response.output_text
    assert response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert raw.headers["x-routelab-model"] == "simulator/gpt-4o-mini"
    assert calls_flush() == 1
    assert Call.objects.get().status == "ok"


def test_the_openai_package_streams_a_response_through_routelab(asgi_server, live_route):
    stream = _client(asgi_server, live_route.key).responses.create(
        model="route:support-bot",
        input=[{"role": "user", "content": "Explain step by step how to implement a binary search tree."}],
        stream=True,
    )
    events = list(stream)
    kinds = [event.type for event in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "response.output_text.done" in kinds
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    final = events[-1].response
    assert len(text) > 20 and final.output_text == text and final.usage.output_tokens > 0
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert calls_flush() == 1


def test_the_openai_package_calls_a_tool_through_a_response(asgi_server, tool_route):
    upstream, key = tool_route
    client = _client(asgi_server, key)
    asked = client.responses.create(model="tools", input="Weather in Paris?", tools=[WEATHER])
    call = next(item for item in asked.output if item.type == "function_call")
    assert (call.name, json.loads(call.arguments), call.call_id) == (
        "get_weather",
        {"city": "Paris"},
        "call_1",
    )
    assert upstream.bodies[-1]["tools"][0]["function"]["name"] == "get_weather"

    answered = client.responses.create(
        model="tools",
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
        ],
        tools=[WEATHER],
    )
    assert answered.output_text == "It is sunny in Paris."
    turns = upstream.bodies[-1]["messages"]
    assert turns[1]["tool_calls"][0]["id"] == "call_1"
    assert turns[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    assert calls_flush() == 2


def test_the_openai_package_sees_refused_response_fields_as_bad_requests(asgi_server, live_route):
    client = _client(asgi_server, live_route.key)
    for extra in ({"previous_response_id": "resp_1"}, {"background": True}):
        with pytest.raises(openai.BadRequestError) as refused:
            client.responses.create(model="route:support-bot", input="hi", **extra)
        assert next(iter(extra)) in refused.value.body["message"]
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="route:support-bot", input="hi", tools=[{"type": "web_search"}])
    assert refused.value.body["param"] == "tools[0].type"
