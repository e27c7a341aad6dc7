"""No call is lost when PostgreSQL stops and restarts in the middle of a burst of requests."""

import asyncio

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import connections

from devtools.faults.servers import PrivatePostgres
from routing.gateway.recorder import calls_flush, calls_waiting
from routing.models import Call

pytestmark = [pytest.mark.integration]


def _close_everywhere() -> None:
    """Close this thread's connections and those of asgiref's one thread for thread-sensitive sync code,
    where the async views' database work runs (persistent connections opened by earlier tests)."""
    connections.close_all()
    asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())


@pytest.fixture
def private_postgres(transactional_db):
    """Point Django (this thread, and the ASGI server's threads started after) at a private PostgreSQL,
    migrated; the shared test database is back in place before pytest-django flushes it."""
    database = PrivatePostgres()
    settings = connections["default"].settings_dict  # one dict, shared by every thread's connection
    saved = dict(settings)
    _close_everywhere()
    settings.update(HOST=database.socket_dir, PORT="", NAME="routelab", USER="postgres", PASSWORD="")
    call_command("migrate", verbosity=0, interactive=False)
    yield database
    _close_everywhere()
    settings.clear()
    settings.update(saved)
    database.close()


def _burst(url: str, key: str, count: int) -> list[int]:
    body = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        return [client.post("/v1/chat/completions", json=body).status_code for _ in range(count)]


@pytest.mark.django_db(transaction=True)
def test_every_request_is_recorded_across_a_postgresql_restart(private_postgres, asgi_server, live_route):
    assert connections["default"].settings_dict["HOST"] == private_postgres.socket_dir
    statuses = _burst(asgi_server, live_route.key, 20)  # warms the routing snapshot
    connections.close_all()
    private_postgres.stop()
    try:
        statuses += _burst(asgi_server, live_route.key, 30)  # served from memory while the database is down
        with pytest.raises(Exception):  # noqa: B017 - any database error: the records must stay queued
            calls_flush()
        assert calls_waiting() == 50
    finally:
        private_postgres.start()
    connections.close_all()
    statuses += _burst(asgi_server, live_route.key, 10)
    calls_flush()
    assert statuses.count(200) == 60
    assert Call.objects.count() == 60
    assert Call.objects.filter(status="ok").count() == 60
    assert calls_waiting() == 0
