"""A provider's refusal of the request itself (a 400) goes back to the client as that 400 with the
provider's message: it never falls back and never opens the model's circuit. A stream whose models all
fail before the first byte gets a real status, not a 200 and an error event. Unknown `/v1/` paths are
JSON 404s, and every response carries an `x-request-id`."""

import json

import httpx
import pytest
from asgiref.sync import async_to_sync

from devtools.seed import registry_seed_simulator
from devtools.serving import serve_in_thread
from routing import services
from routing.gateway.execute import breaker
from routing.gateway.recorder import calls_flush
from routing.models import Call
from tests.streams import chat_stream
from tests.upstreams import receive_json, send_json

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
REFUSAL = "Invalid 'logit_bias': token ids must be integers in [0, 100257]."


class Refusing:
    """An OpenAI-compatible upstream that refuses every request with a 400 in OpenAI's error shape."""

    def __init__(self):
        self.requests = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        await receive_json(receive)
        self.requests += 1
        error = {"message": REFUSAL, "type": "invalid_request_error", "param": "logit_bias", "code": None}
        await send_json(send, 400, {"error": error})


@pytest.fixture
def strict_route(live_route):
    """A route whose policy picks a model of a provider that refuses every request; the simulator's
    models, which would answer, are its fallbacks."""
    upstream = Refusing()
    served = serve_in_thread(upstream, name="refusing-upstream")
    registry_seed_simulator(base_url=f"{served.url}/v1", name="strict")
    route = services.route_create(name="strict-bot")
    services.policy_create(
        route=route, name="rules", spec={"kind": "rules", "rules": [], "default": "strict/gpt-4o-mini"}
    )
    _, key = services.api_key_create(name="strict app", routes=[route])
    upstream.auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    yield upstream
    served.stop()


def _ask(client, strict_route, stream=False):
    body = {"messages": FRANCE, "stream": stream}
    return client.post(
        "/v1/chat/completions", data=json.dumps(body), content_type="application/json", **strict_route.auth
    )


async def _breaker_state(model: str) -> str:
    return await breaker().state(model)


def _simulator_requests(live_route) -> int:
    stats = httpx.get(f"{live_route.simulator.url}/_sim/stats").json()
    return sum(model["requests"] for model in stats["models"].values())


def test_six_requests_the_provider_rejects_get_its_400_leave_the_circuit_closed_and_never_fall_back(
    client, live_route, strict_route, settings
):
    assert settings.BREAKER_FAILURE_THRESHOLD < 6
    for _ in range(6):
        response = _ask(client, strict_route)
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert REFUSAL in error["message"] and "strict/gpt-4o-mini" in error["message"]

    assert strict_route.requests == 6  # no retry of a refusal
    assert _simulator_requests(live_route) == 0  # no fallback
    assert async_to_sync(_breaker_state)("strict/gpt-4o-mini") == "closed"
    assert calls_flush() == 6
    attempts = [call.attempts for call in Call.objects.all()]
    assert all([a["status"] for a in call] == ["rejected"] for call in attempts), attempts


def test_a_refused_stream_is_the_providers_400_before_any_byte(client, live_route, strict_route):
    response = _ask(client, strict_route, stream=True)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert REFUSAL in response.json()["error"]["message"]
    assert _simulator_requests(live_route) == 0


def test_a_stream_whose_models_all_fail_before_the_first_byte_is_a_502_not_a_200(client, live_route):
    httpx.post(f"{live_route.simulator.url}/_sim/faults", json={"model": "*", "error_rate": 1.0})
    body = {"messages": FRANCE, "stream": True}
    response = client.post(
        "/v1/chat/completions", data=json.dumps(body), content_type="application/json", **live_route.auth
    )
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"
    assert response["x-should-retry"] == "false"
    assert calls_flush() == 1
    assert Call.objects.get().status != "ok"


def test_a_stream_whose_models_are_all_rate_limited_is_a_429_with_retry_after(client, live_route):
    httpx.post(f"{live_route.simulator.url}/_sim/faults", json={"model": "*", "rate_limit_rate": 1.0})
    body = {"messages": FRANCE, "stream": True}
    response = client.post(
        "/v1/chat/completions", data=json.dumps(body), content_type="application/json", **live_route.auth
    )
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize("path", ["/v1/nothing-here", "/v1/", "/v1/completions"])
def test_an_unknown_gateway_path_is_a_json_404_in_openais_shape(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["type"] == "not_found" and path in error["message"]


def test_every_response_carries_an_x_request_id_and_keeps_the_clients_own(asgi_server, live_route):
    with httpx.Client(base_url=asgi_server, timeout=30) as http:
        chat = http.post(
            "/v1/chat/completions",
            json={"messages": FRANCE},
            headers={"Authorization": f"Bearer {live_route.key}"},
        )
        page = http.get("/admin/login/")
        missing = http.get("/v1/nothing-here")
        own = http.get("/v1/nothing-here", headers={"x-request-id": "client-trace.42"})
        hostile = http.get("/v1/nothing-here", headers={"x-request-id": "a b\tc" + "x" * 200})
    assert chat.status_code == 200 and page.status_code == 200 and missing.status_code == 404
    ids = [r.headers["x-request-id"] for r in (chat, page, missing)]
    assert all(len(i) == 32 for i in ids) and len(set(ids)) == 3
    assert own.headers["x-request-id"] == "client-trace.42"
    assert hostile.headers["x-request-id"] != "" and " " not in hostile.headers["x-request-id"]


@pytest.mark.parametrize(
    ("path", "body", "ending"),
    [
        ("/v1/chat/completions", {}, b'"type":"upstream_error"'),
        (
            "/v1/messages",
            {"max_tokens": 200},
            b'event: error\ndata: {"type":"error","error":{"type":"api_error"',
        ),
    ],
)
def test_a_stream_that_breaks_after_its_first_byte_ends_with_an_error_event_and_is_recorded(
    live_route, path, body, ending
):
    httpx.post(f"{live_route.simulator.url}/_sim/faults", json={"model": "*", "cut_stream_rate": 1.0})
    response, content = chat_stream({"messages": FRANCE, "stream": True, **body}, live_route.auth, path)
    assert response.status_code == 200
    assert ending in content
    if path == "/v1/chat/completions":
        assert content.rstrip().endswith(b"data: [DONE]")
    assert calls_flush() == 1
    call = Call.objects.get()
    assert call.status != "ok" and call.stream is True
