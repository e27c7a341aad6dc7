"""Per-key limits and route budgets: a 429 with Retry-After, for every policy kind, across processes."""

import json

import httpx
import pytest
from asgiref.sync import async_to_sync

from devtools.faults.gateway import Gateway
from routing import services
from routing.gateway import live

pytestmark = [pytest.mark.integration]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
RULES_SPEC = {"kind": "rules", "rules": [], "default": "simulator/gpt-4o"}


def _ask(client, live_route):
    return client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": FRANCE}),
        content_type="application/json",
        **live_route.auth,
    )


def _key_limits(live_route, capture, **limits):
    with capture(execute=True):
        services.api_key_update(api_key=live_route.api_key, **limits)


@pytest.mark.django_db
def test_a_key_over_its_tokens_per_day_gets_a_429_until_midnight(
    client, live_route, django_capture_on_commit_callbacks
):
    _key_limits(live_route, django_capture_on_commit_callbacks, tokens_per_day=1)
    assert _ask(client, live_route).status_code == 200  # under the limit when it starts
    live.reset_cache()  # the live cache reads Redis once a second: this reads it now
    refused = _ask(client, live_route)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert "tokens for today" in refused.json()["error"]["message"]
    assert 1 <= int(refused["Retry-After"]) <= 86400


@pytest.mark.django_db
def test_a_key_over_its_spend_per_day_gets_a_429(client, live_route, django_capture_on_commit_callbacks):
    _key_limits(live_route, django_capture_on_commit_callbacks, spend_per_day_usd="0.0001")
    long_question = [{"role": "user", "content": "Summarise this: " + "the cat sat on the mat. " * 200}]
    first = client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": long_question}),
        content_type="application/json",
        **live_route.auth,
    )
    assert first.status_code == 200, first.content
    assert float(first.json()["routelab"]["cost_usd"]) > 0.0001  # this call alone spends more than the limit
    live.reset_cache()
    refused = _ask(client, live_route)
    assert refused.status_code == 429 and "spent its $0.0001" in refused.json()["error"]["message"]


@pytest.mark.django_db
def test_a_route_over_its_daily_budget_is_refused_for_a_rules_policy_too(
    client, live_route, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        version = services.policy_create(route=live_route.route, name="static", spec=RULES_SPEC)
        services.route_set_live_policy(route=live_route.route, version=version)
        services.route_update(route=live_route.route, daily_budget_usd="0.001")
    async_to_sync(live.record_spend)(live_route.route.id, None, 0.001, 0)
    live.reset_cache()
    refused = _ask(client, live_route)
    assert refused.status_code == 429, refused.content
    assert "daily budget of $0.001" in refused.json()["error"]["message"]
    assert int(refused["Retry-After"]) >= 1


@pytest.mark.django_db
def test_a_key_limit_out_of_range_is_refused_naming_the_field(live_route):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        services.api_key_update(api_key=live_route.api_key, requests_per_minute=0)
    assert "requests_per_minute" in refused.value.message_dict


@pytest.fixture
def two_gateways(database_url, live_route, settings, tmp_path):
    """Two uvicorn processes on the test database and Redis, as two workers (or hosts) would be."""
    gateways = [
        Gateway(database_url=database_url, redis_url=settings.REDIS_URL, var_dir=tmp_path / f"gw{i}")
        for i in range(2)
    ]
    try:
        for gateway in gateways:
            gateway.start()
        yield gateways
    finally:
        for gateway in gateways:
            gateway.stop()


@pytest.mark.django_db(transaction=True)
def test_a_key_over_its_requests_per_minute_gets_a_429_shared_across_two_uvicorn_processes(
    live_route, two_gateways
):
    services.api_key_update(api_key=live_route.api_key, requests_per_minute=6)  # committed: transactional
    headers = {"Authorization": f"Bearer {live_route.key}"}
    statuses, retry_after = [], []
    for i in range(12):
        response = httpx.post(
            f"{two_gateways[i % 2].url}/v1/chat/completions",
            json={"messages": FRANCE},
            headers=headers,
            timeout=30,
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            retry_after.append(int(response.headers["Retry-After"]))
            assert "6 requests per minute" in response.json()["error"]["message"]
    assert statuses.count(200) == 6, statuses  # one bucket for both processes: 6 in all, not 6 each
    assert statuses.count(429) == 6
    assert all(1 <= seconds <= 60 for seconds in retry_after)
