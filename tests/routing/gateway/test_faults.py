"""Fault tests against the simulator: fallbacks, the circuit breaker, and Retry-After."""

import asyncio
import json
import time

import httpx
import pytest
from redis.asyncio import Redis

from routing.gateway.recorder import calls_flush
from routing.gateway.resilience import CircuitBreaker

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def _ask(client, live_route):
    return client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": FRANCE}),
        content_type="application/json",
        **live_route.auth,
    )


def _fault(live_route, **settings):
    httpx.post(f"{live_route.simulator.url}/_sim/faults", json=settings).raise_for_status()


def _requests_to(live_route, model: str) -> int:
    stats = httpx.get(f"{live_route.simulator.url}/_sim/stats").json()
    return stats["models"][model]["requests"]


def test_with_the_primary_failing_every_call_calls_succeed_through_the_fallback(client, live_route):
    _fault(live_route, model="gpt-4o-mini", error_rate=1.0)
    for _ in range(3):
        response = _ask(client, live_route)
        assert response.status_code == 200, response.content
        assert response["x-routelab-decided-model"] == "simulator/gpt-4o-mini"
        assert response["x-routelab-model"] == "simulator/gpt-4o"
        assert response.json()["routelab"]["fallbacks_used"] == 1
    calls_flush()
    from routing.models import Call

    call = Call.objects.first()
    assert call.fallbacks_used == 1
    assert [a["status"] for a in call.attempts] == ["error", "ok"]


def test_the_breaker_opens_stops_sending_to_the_failing_model_then_recovers(client, live_route, settings):
    settings.BREAKER_OPEN_SECONDS = 1.0
    _fault(live_route, model="gpt-4o-mini", error_rate=1.0)
    for _ in range(settings.BREAKER_FAILURE_THRESHOLD):
        assert _ask(client, live_route).status_code == 200
    sent_while_failing = _requests_to(live_route, "gpt-4o-mini")
    for _ in range(5):
        response = _ask(client, live_route)
        assert response["x-routelab-model"] == "simulator/gpt-4o"
        assert response.json()["routelab"]["fallbacks_used"] == 1
    assert _requests_to(live_route, "gpt-4o-mini") == sent_while_failing  # the open circuit sent nothing

    httpx.delete(f"{live_route.simulator.url}/_sim/faults").raise_for_status()
    time.sleep(1.1)
    response = _ask(client, live_route)
    assert response["x-routelab-model"] == "simulator/gpt-4o-mini"  # the half-open probe succeeded
    assert _ask(client, live_route)["x-routelab-model"] == "simulator/gpt-4o-mini"  # and it closed


def test_a_circuit_another_process_opens_is_seen_once_this_processs_closed_lease_ends(
    client, live_route, settings
):
    settings.BREAKER_CLOSED_LEASE_SECONDS = 0.3
    assert _ask(client, live_route)["x-routelab-model"] == "simulator/gpt-4o-mini"  # read as closed
    asyncio.run(_open_elsewhere("simulator/gpt-4o-mini", settings.REDIS_URL))
    assert _ask(client, live_route)["x-routelab-model"] == "simulator/gpt-4o-mini"  # within the lease
    sent = _requests_to(live_route, "gpt-4o-mini")
    time.sleep(0.35)
    response = _ask(client, live_route)
    assert response["x-routelab-model"] == "simulator/gpt-4o"
    assert response.json()["routelab"]["fallbacks_used"] == 1
    assert _requests_to(live_route, "gpt-4o-mini") == sent  # the open circuit sent nothing


def test_a_failure_this_process_sees_ends_its_closed_lease_at_once(client, live_route, settings):
    settings.BREAKER_CLOSED_LEASE_SECONDS = 60.0  # only the failures can end it within this test
    assert _ask(client, live_route)["x-routelab-model"] == "simulator/gpt-4o-mini"
    _fault(live_route, model="gpt-4o-mini", error_rate=1.0)
    for _ in range(settings.BREAKER_FAILURE_THRESHOLD):  # each falls back; the last opens the circuit
        assert _ask(client, live_route)["x-routelab-model"] == "simulator/gpt-4o"
    sent = _requests_to(live_route, "gpt-4o-mini")
    assert _ask(client, live_route)["x-routelab-model"] == "simulator/gpt-4o"
    assert _requests_to(live_route, "gpt-4o-mini") == sent  # skipped: asked again, and found open


async def _open_elsewhere(model_key: str, redis_url: str) -> None:
    """What another process's failures do: the model's shared circuit opened."""
    other = Redis.from_url(redis_url)
    try:
        await CircuitBreaker(other, failure_threshold=1).record_failure(model_key)
        assert await CircuitBreaker(other).state(model_key) == "open"
    finally:
        await other.aclose()


def test_a_429_with_retry_after_is_honoured_before_falling_back(client, live_route, settings):
    settings.GATEWAY_MAX_ATTEMPTS = 6  # room for every retry: the request's budget is tested below
    _fault(live_route, model="gpt-4o-mini", rate_limit_rate=1.0, retry_after=1)
    started = time.monotonic()
    response = _ask(client, live_route)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response["x-routelab-model"] == "simulator/gpt-4o"
    attempts = _requests_to(live_route, "gpt-4o-mini")
    assert attempts == 3  # PROVIDER_MAX_ATTEMPTS, each refused with a 429
    assert elapsed >= 2.0  # two waits of the one second the server asked for
    calls_flush()
    from routing.models import Call

    assert Call.objects.get().attempts[0]["error_kind"] == "rate_limit"


def test_a_policy_whose_chain_names_two_models_never_calls_a_third(
    client, live_route, settings, django_capture_on_commit_callbacks
):
    from routing import services

    settings.GATEWAY_MAX_ATTEMPTS = 10  # room for a third model, were it in the chain
    spec = {"kind": "rules", "rules": [], "default": "simulator/gpt-4o-mini"}
    spec["default_fallbacks"] = ["simulator/gpt-4o"]
    with django_capture_on_commit_callbacks(execute=True):
        version = services.policy_create(route=live_route.route, name="two-models", spec=spec)
        services.route_set_live_policy(route=live_route.route, version=version)
    _fault(live_route, model="*", error_rate=1.0)

    response = _ask(client, live_route)

    assert response.status_code == 502
    assert _requests_to(live_route, "gpt-4o-mini") > 0 and _requests_to(live_route, "gpt-4o") > 0
    assert _requests_to(live_route, "claude-opus-4-1") == 0


def test_a_model_the_route_allows_serves_as_a_fallback_named_so_in_the_trace_and_no_other_is_called(
    client, live_route, settings, django_capture_on_commit_callbacks
):
    from routing import services

    settings.GATEWAY_MAX_ATTEMPTS = 10  # room for every model, were it in the chain
    spec = {"kind": "rules", "rules": [], "default": "simulator/gpt-4o-mini"}  # names one model
    with django_capture_on_commit_callbacks(execute=True):
        version = services.policy_create(route=live_route.route, name="one-model", spec=spec)
        services.route_set_live_policy(route=live_route.route, version=version)
        services.route_update(route=live_route.route, allowed_fallbacks=["simulator/claude-opus-4-1"])
    _fault(live_route, model="gpt-4o-mini", error_rate=1.0)

    response = _ask(client, live_route)

    assert response.status_code == 200, response.content
    assert response["x-routelab-model"] == "simulator/claude-opus-4-1"
    assert response.json()["routelab"]["trace"][-1] == (
        "model simulator/gpt-4o-mini; fallbacks (models the policy names): none;"
        " then (models the route allows): simulator/claude-opus-4-1"
    )
    assert _requests_to(live_route, "gpt-4o") == 0  # neither named by the policy nor allowed by the route
