"""A cascade on the live path: a cheap answer that is a tool call or structured output is judged by its
validity, and a streamed cascade streams its answer as soon as it is chosen. The two models are served
by an upstream that records what it receives and answers what each test tells it."""

import asyncio
import json
import time
from decimal import Decimal

import pytest

from devtools.serving import serve_in_thread
from routing import services
from routing.models import Route
from tests.streams import chat_stream
from tests.upstreams import receive_json, send_json

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CAPITAL_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "capital",
        "schema": {"type": "object", "properties": {"capital": {"type": "string"}}, "required": ["capital"]},
    },
}
STRONG_PARTS = ("The capital ", "of France is Paris.")
STRONG_PAUSE = 1.0  # seconds between the strong model's first chunk and the rest


class Upstream:
    """Two models: `cheap` answers with `cheap_message`; `strong` answers STRONG_PARTS, streamed with a
    pause after the first part. Every request body is kept."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.cheap_message: dict = {"role": "assistant", "content": "The capital of France is Paris."}
        self.failing: set[str] = set()  # models that answer 500

    def requests_to(self, model: str) -> int:
        return sum(body["model"] == model for body in self.bodies)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        body = await receive_json(receive)
        self.bodies.append(body)
        if body["model"] in self.failing:
            await send_json(send, 500, {"error": {"message": "down", "type": "server_error"}})
        elif body.get("stream"):
            await self._stream(body["model"], send)
        else:
            message = self.cheap_message if body["model"] == "cheap" else self._strong()
            await send_json(send, 200, _completion(body["model"], message))

    def _strong(self) -> dict:
        return {"role": "assistant", "content": "".join(STRONG_PARTS)}

    async def _stream(self, model: str, send) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for index, part in enumerate(STRONG_PARTS):
            await _event(send, _chunk(model, {"content": part}, None))
            if index == 0:
                await asyncio.sleep(STRONG_PAUSE)
        await _event(send, _chunk(model, {}, "stop"))
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})


async def _event(send, payload: dict) -> None:
    data = f"data: {json.dumps(payload)}\n\n".encode()
    await send({"type": "http.response.body", "body": data, "more_body": True})


def _chunk(model: str, delta: dict, finish_reason: str | None) -> dict:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {
        "id": "chunk",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [choice],
    }


def _completion(model: str, message: dict) -> dict:
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20},
    }


def _tool_call(name: str, arguments: str) -> dict:
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


@pytest.fixture
def cascade(django_capture_on_commit_callbacks):
    """A route whose cascade calls `up/cheap` first and escalates to `up/strong`; the upstream and auth."""
    upstream = Upstream()
    served = serve_in_thread(upstream, name="cascade-upstream")
    with django_capture_on_commit_callbacks(execute=True):
        provider = services.provider_create(name="up", kind="openai", base_url=f"{served.url}/v1")
        for model_id, tier in (("cheap", "cheap"), ("strong", "premium"), ("backup", "mid")):
            services.model_create(
                provider=provider,
                model_id=model_id,
                tier=tier,
                input_price_per_mtok=Decimal("1"),
                output_price_per_mtok=Decimal("2"),
                context_window=128_000,
                max_output_tokens=4096,
                supports_tools=True,
                supports_json_mode=True,
            )
        route = services.route_create(name="cascading")
        spec = {"kind": "cascade", "chain": ["up/cheap", "up/strong"], "threshold": 0.7}
        services.policy_create(route=route, name="cascade", spec=spec)
        raw = services.api_key_create(name="cascade app", routes=[route])[1]
    yield upstream, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    served.stop()


def _ask(client, auth, **body) -> dict:
    response = client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": FRANCE, **body}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_cheap_answer_that_is_a_valid_tool_call_is_served_and_the_strong_model_never_called(
    client, cascade
):
    upstream, auth = cascade
    upstream.cheap_message = _tool_call("get_weather", '{"city": "Paris"}')

    answer = _ask(client, auth, tools=[WEATHER])

    assert answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert answer["routelab"]["escalations"] == 0
    assert (upstream.requests_to("cheap"), upstream.requests_to("strong")) == (1, 0)


@pytest.mark.parametrize(
    "name, arguments",
    [("get_forecast", '{"city": "Paris"}'), ("get_weather", '{"city": "Par'), ("get_weather", "{}")],
    ids=["unknown tool", "arguments that do not parse", "a required argument missing"],
)
def test_a_cheap_tool_call_that_is_not_valid_escalates(client, cascade, name, arguments):
    upstream, auth = cascade
    upstream.cheap_message = _tool_call(name, arguments)

    answer = _ask(client, auth, tools=[WEATHER])

    assert answer["choices"][0]["message"]["content"] == "".join(STRONG_PARTS)
    assert answer["routelab"]["escalations"] == 1
    assert upstream.requests_to("strong") == 1


@pytest.mark.parametrize(
    "content, escalations",
    [('{"capital": "Paris"}', 0), ('{"city": "Paris"}', 1), ("Paris, I think.", 1)],
    ids=["matches the schema", "misses a required key", "not JSON"],
)
def test_cheap_structured_output_is_served_when_it_matches_its_schema_and_escalates_when_not(
    client, cascade, content, escalations
):
    upstream, auth = cascade
    upstream.cheap_message = {"role": "assistant", "content": content}

    answer = _ask(client, auth, response_format=CAPITAL_FORMAT)

    assert answer["routelab"]["escalations"] == escalations
    assert upstream.requests_to("strong") == escalations


def _content_events(arrivals: list) -> list[tuple[float, str]]:
    """(arrival time, text) of each streamed chunk that carries answer text."""
    events = []
    for arrived, raw in arrivals:
        for line in raw.decode().splitlines():
            if line.startswith("data: {"):
                delta = json.loads(line[6:])["choices"][0]["delta"] if "choices" in line else {}
                if delta.get("content"):
                    events.append((arrived, delta["content"]))
    return events


def test_a_streamed_escalation_passes_the_strong_models_stream_through_as_it_arrives(cascade):
    upstream, auth = cascade
    upstream.cheap_message = {"role": "assistant", "content": "I'm not sure, I don't know."}
    arrivals: list = []

    response, raw = chat_stream({"messages": FRANCE, "stream": True}, auth, arrivals=arrivals)

    assert response.status_code == 200 and raw.rstrip().endswith(b"data: [DONE]")
    events = _content_events(arrivals)
    assert "".join(text for _, text in events) == "".join(STRONG_PARTS)
    ended = arrivals[-1][0]
    assert events[0][1] == STRONG_PARTS[0]
    assert ended - events[0][0] > 0.7 * STRONG_PAUSE  # the first chunk came out before the pause
    assert upstream.requests_to("strong") == 1


def test_a_streamed_answer_the_cascade_accepts_arrives_whole_and_the_strong_model_is_never_called(cascade):
    upstream, auth = cascade
    started = time.perf_counter()

    response, raw = chat_stream({"messages": FRANCE, "stream": True}, auth, arrivals=(arrivals := []))

    assert response.status_code == 200
    assert [text for _, text in _content_events(arrivals)] == [upstream.cheap_message["content"]]
    assert time.perf_counter() - started < STRONG_PAUSE
    assert (upstream.requests_to("cheap"), upstream.requests_to("strong")) == (1, 0)


def test_when_the_strong_model_fails_a_model_the_route_allows_answers_in_its_place(
    client, cascade, django_capture_on_commit_callbacks
):
    upstream, auth = cascade
    with django_capture_on_commit_callbacks(execute=True):
        route = Route.objects.get(name="cascading")
        services.route_update(route=route, allowed_fallbacks=["up/backup"])
    upstream.cheap_message = {"role": "assistant", "content": "I'm not sure, I don't know."}
    upstream.failing = {"strong"}

    answer = _ask(client, auth)

    assert answer["routelab"]["model"] == "up/backup"
    assert (answer["routelab"]["escalations"], answer["routelab"]["fallbacks_used"]) == (1, 1)
    assert "then (models the route allows): up/backup" in answer["routelab"]["trace"][-1]
