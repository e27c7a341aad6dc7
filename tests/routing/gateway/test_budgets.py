"""A client request's bounds: its provider-attempt budget and its deadline, against the simulator."""

import json
import time

import httpx
import pytest

from routing import services
from routing.gateway.recorder import calls_flush
from routing.models import Call
from routing.providers.base import CallBudget, RetryShare
from tests.streams import chat_stream

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def _ask(client, live_route, **body):
    return client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": FRANCE, **body}),
        content_type="application/json",
        **live_route.auth,
    )


def _route_set(route, capture, **fields):
    with capture(execute=True):  # the change is announced on commit, as in production
        services.route_update(route=route, **fields)


def _fault(live_route, **settings):
    httpx.post(f"{live_route.simulator.url}/_sim/faults", json=settings).raise_for_status()


def _provider_requests(live_route) -> int:
    stats = httpx.get(f"{live_route.simulator.url}/_sim/stats").json()
    return sum(model["requests"] for model in stats["models"].values())


def test_with_every_model_failing_one_request_makes_at_most_the_configured_provider_requests(
    client, live_route, settings, django_capture_on_commit_callbacks
):
    settings.GATEWAY_MAX_ATTEMPTS = 4
    _fault(live_route, model="*", error_rate=1.0)
    response = _ask(client, live_route)
    assert response.status_code == 502, response.content
    assert response["x-should-retry"] == "false"  # the gateway has retried already: the SDK must not
    assert _provider_requests(live_route) == 4

    _route_set(live_route.route, django_capture_on_commit_callbacks, max_attempts=2)
    response = _ask(client, live_route)
    assert response.status_code == 502
    assert _provider_requests(live_route) == 4 + 2  # the route's own budget


def test_a_models_retries_leave_its_fallbacks_their_first_attempt(client, live_route, settings):
    settings.GATEWAY_MAX_ATTEMPTS = 3
    _fault(live_route, model="gpt-4o-mini", error_rate=1.0)
    response = _ask(client, live_route)
    assert response.status_code == 200, response.content
    assert response["x-routelab-model"] != "simulator/gpt-4o-mini"
    calls_flush()
    attempts = Call.objects.get().attempts
    assert attempts[0]["model"] == "simulator/gpt-4o-mini" and attempts[-1]["status"] == "ok"


def test_a_hanging_primary_falls_back_within_the_deadline(
    client, live_route, settings, django_capture_on_commit_callbacks
):
    settings.GATEWAY_FALLBACK_RESERVE_SECONDS = 1.5
    _route_set(live_route.route, django_capture_on_commit_callbacks, deadline_seconds=6.0)
    _fault(live_route, model="gpt-4o-mini", timeout_rate=1.0, timeout_seconds=60)
    started = time.monotonic()
    response = _ask(client, live_route)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content
    assert response["x-routelab-model"] != "simulator/gpt-4o-mini"
    assert 3.0 <= elapsed < 6.0  # the primary's share: 6 s less 1.5 s for each of its two fallbacks
    calls_flush()
    assert Call.objects.get().attempts[0]["error_kind"] == "timeout"


def test_a_hanging_primary_falls_back_within_the_deadline_when_streamed(
    client, live_route, settings, django_capture_on_commit_callbacks
):
    settings.GATEWAY_FALLBACK_RESERVE_SECONDS = 1.5
    _route_set(live_route.route, django_capture_on_commit_callbacks, deadline_seconds=4.0)
    _fault(live_route, model="gpt-4o-mini", timeout_rate=1.0, timeout_seconds=60)
    started = time.monotonic()
    response, content = chat_stream({"messages": FRANCE, "stream": True}, live_route.auth)
    body = content.decode()
    assert response.status_code == 200
    assert body.rstrip().endswith("data: [DONE]") and '"error"' not in body
    assert time.monotonic() - started < 4.0


def test_when_every_model_hangs_the_gateway_answers_504_at_the_deadline_and_records_the_call(
    client, live_route, django_capture_on_commit_callbacks
):
    _route_set(live_route.route, django_capture_on_commit_callbacks, deadline_seconds=2.0)
    _fault(live_route, model="*", timeout_rate=1.0, timeout_seconds=60)
    started = time.monotonic()
    response = _ask(client, live_route)
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.content
    assert "deadline" in response.json()["error"]["message"]
    assert 2.0 <= elapsed < 3.0
    calls_flush()
    call = Call.objects.get()
    assert (call.status, call.error_kind) == ("error", "deadline")


def test_a_call_budget_keeps_the_reserved_attempts_from_retries():
    budget = CallBudget(attempts=3, reserved=1)
    assert budget.take()  # a first attempt
    assert budget.take(retry=True)  # 2 left, 1 reserved: a retry may take one
    assert not budget.take(retry=True)  # 1 left, reserved for the next model
    assert budget.take()  # which gets it
    assert not budget.take()


def test_retries_are_capped_at_a_share_of_a_providers_requests():
    clock = [0.0]
    share = RetryShare(ratio=0.25, floor_per_second=0.0, cap=2.0, clock=lambda: clock[0])
    allowed = 0
    for _ in range(100):
        share.requested("p")
        allowed += share.retry_allowed("p")  # every request wants a retry
    assert allowed == 26  # 2 to start, then a quarter per request (the first one lost at the cap)
    clock[0] += 3600
    assert share.retry_allowed("p") is False  # no floor: time alone refills nothing
