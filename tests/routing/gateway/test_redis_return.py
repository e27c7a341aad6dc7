"""A routing change made while Redis is unreachable reaches every gateway process once Redis returns,
with no other change needed: the announcement through Redis is lost, the database's generation is not.

The gateway is uvicorn in a process of its own on the test database and a Redis of this test's own (an
append-only file, restarted on the same port, so the announced generation it returns with is the old
one); the revocation happens in this process, as in a web worker other than the one that serves calls.
"""

import json
import time

import httpx
import pytest

from devtools.faults.gateway import Gateway
from devtools.faults.servers import PrivateRedis
from routing import services
from routing.gateway.redis_client import _async_clients, get_redis

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FRANCE = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}


@pytest.fixture
def outage_stack(database_url, live_route, settings, tmp_path):
    """A private Redis that both this process and a uvicorn gateway process use."""
    redis_server = PrivateRedis(tmp_path / "redis")
    redis_server.start()
    settings.REDIS_URL = redis_server.url
    get_redis.cache_clear()
    _async_clients.clear()
    gateway = Gateway(database_url=database_url, redis_url=redis_server.url, var_dir=tmp_path / "gw")
    try:
        gateway.start()
        yield redis_server, gateway
    finally:
        gateway.stop()
        if redis_server.running:
            redis_server.kill()
        get_redis.cache_clear()
        _async_clients.clear()


def _ask(gateway: Gateway, key: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/chat/completions",
        content=json.dumps(FRANCE),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )


def test_a_key_revoked_while_redis_is_down_is_refused_within_5_s_of_redis_returning(live_route, outage_stack):
    redis_server, gateway = outage_stack
    assert _ask(gateway, live_route.key).status_code == 200  # the gateway's snapshot holds the key

    # The worst case: the change lands just after the gateway last compared with the database, and
    # the gateway sends nothing to Redis during the outage, so it never sees Redis fail.
    redis_server.kill()
    services.api_key_revoke(api_key=live_route.api_key)  # committed; Redis cannot announce it
    time.sleep(1)
    redis_server.start()
    returned = time.monotonic()

    statuses = []
    while time.monotonic() - returned < 8:
        response = _ask(gateway, live_route.key)
        statuses.append(response.status_code)
        if response.status_code == 401:
            break
        time.sleep(0.2)
    refused_after = time.monotonic() - returned

    assert statuses[-1] == 401, statuses
    assert "revoked" in response.json()["error"]["message"]
    assert refused_after <= 5.0, (refused_after, statuses)
