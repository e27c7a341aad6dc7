"""POST /v1/chat/completions through Django's test client, against the simulator over real HTTP."""

import json

import httpx
import pytest

from routing.gateway.recorder import calls_flush
from routing.models import Call
from tests.streams import chat_stream

pytestmark = pytest.mark.django_db

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
CODE = [{"role": "user", "content": "Why does this fail?\n```python\nprint(1/0)\n```"}]


def _post(client, body, auth, **extra):
    return client.post(
        "/v1/chat/completions", data=json.dumps(body), content_type="application/json", **auth, **extra
    )


def test_a_simple_question_is_answered_by_the_cheap_model_in_openai_format(client, live_route):
    response = _post(client, {"model": "route:support-bot", "messages": FRANCE}, live_route.auth)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["choices"][0]["message"]["content"]
    assert (
        body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    assert response["x-routelab-model"] == "simulator/gpt-4o-mini"
    assert response["x-routelab-policy-version"] == "by-complexity@v1"
    assert response["x-routelab-decision-id"] == body["routelab"]["decision_id"]


def test_a_code_question_goes_to_the_premium_model(client, live_route):
    response = _post(client, {"messages": CODE}, live_route.auth)
    assert response.status_code == 200, response.content
    assert response["x-routelab-model"] == "simulator/claude-opus-4-1"


def test_a_streamed_answer_arrives_as_server_sent_chunks(client, live_route):
    body = {"messages": FRANCE, "stream": True, "stream_options": {"include_usage": True}}
    response, content = chat_stream(body, live_route.auth)
    assert response.status_code == 200
    assert response["content-type"] == "text/event-stream"
    lines = [line for line in content.decode().splitlines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text
    assert any(c["choices"] and c["choices"][0]["finish_reason"] for c in chunks)
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_every_request_yields_exactly_one_call_row(client, live_route):
    for _ in range(3):
        assert _post(client, {"messages": FRANCE, "user": "u-1"}, live_route.auth).status_code == 200
    assert calls_flush() == 3
    calls = list(Call.objects.all())
    assert len(calls) == 3
    call = calls[0]
    assert call.status == "ok" and call.source == "proxy"
    assert call.route_id == live_route.route.id
    assert call.policy_version_id == live_route.version.id
    assert call.model.model_id == "gpt-4o-mini"
    assert call.user_hash and call.user_hash != "u-1"
    assert call.input_tokens > 0 and call.cost > 0
    assert call.decision["trace"]


def test_a_failed_call_is_recorded_too(client, live_route):
    httpx.post(
        f"{live_route.simulator.url}/_sim/faults", json={"model": "*", "error_rate": 1.0}
    ).raise_for_status()
    response = _post(client, {"messages": FRANCE}, live_route.auth)
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "upstream_error"
    calls_flush()
    call = Call.objects.get()
    assert call.status == "error"
    assert call.error_kind == "server_error"
    assert call.attempts and all(a["status"] != "ok" for a in call.attempts)


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"model": "route:support-bot"}, 400, "messages: This field is required."),
        ({"messages": []}, 400, "messages"),
        ({"messages": "hello"}, 400, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, 400, "messages[0].role"),
        ({"messages": FRANCE, "temperature": "hot"}, 400, "temperature: A valid number is required."),
        ({"messages": FRANCE, "max_tokens": -5}, 400, "max_tokens"),
        ({"messages": FRANCE, "stream": "maybe"}, 400, "stream"),
        ({"messages": FRANCE, "model": "route:nowhere"}, 404, "Unknown route 'nowhere'"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client, live_route, body, status, fragment):
    response = _post(client, body, live_route.auth)
    assert response.status_code == status, response.content
    assert fragment in response.json()["error"]["message"]


def test_malformed_json_is_a_400(client, live_route):
    response = client.post(
        "/v1/chat/completions", data="{oops", content_type="application/json", **live_route.auth
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]["message"]


def test_an_oversize_body_is_a_413(client, live_route, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    huge = [{"role": "user", "content": "x" * 20_000}]
    response = _post(client, {"messages": huge}, live_route.auth)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert "larger than the 10,000 bytes" in response.json()["error"]["message"]


def test_a_missing_or_unknown_key_is_a_401(client, live_route):
    assert _post(client, {"messages": FRANCE}, {}).status_code == 401
    response = _post(client, {"messages": FRANCE}, {"HTTP_AUTHORIZATION": "Bearer rl_nope"})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid API key."


def test_a_revoked_key_is_a_401(client, live_route, django_capture_on_commit_callbacks):
    from routing import services

    with django_capture_on_commit_callbacks(execute=True):
        services.api_key_revoke(api_key=live_route.api_key)
    response = _post(client, {"messages": FRANCE}, live_route.auth)
    assert response.status_code == 401
    assert "was revoked" in response.json()["error"]["message"]


def test_a_key_cannot_use_another_route(client, live_route):
    from routing import services

    services.route_create(name="billing")
    response = _post(client, {"messages": FRANCE, "model": "route:billing"}, live_route.auth)
    assert response.status_code == 403


def test_get_is_not_allowed(client, live_route):
    response = client.get("/v1/chat/completions", **live_route.auth)
    assert response.status_code == 405


def test_a_nul_character_postgresql_cannot_hold_is_still_recorded_with_the_call(client, live_route):
    body = {"messages": [{"role": "user", "content": "nul \x00 inside"}], "metadata": {"feature": "f\x00"}}
    assert _post(client, body, live_route.auth).status_code == 200
    assert _post(client, {"messages": FRANCE}, live_route.auth).status_code == 200
    assert calls_flush() == 2
    stored = Call.objects.exclude(prompt__contains="France").get()
    assert stored.prompt == "nul \ufffd inside" and stored.metadata == {"feature": "f\ufffd"}
