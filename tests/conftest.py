from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest
from rest_framework.test import APIClient


@pytest.fixture(scope="session")
def simulator():
    """The provider simulator, a real HTTP server on a free port, without artificial delays."""
    from devtools.simulator.server import run_in_thread

    with run_in_thread(seed=7, time_scale=0.0) as running:
        yield running


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-for-tests-only", is_staff=True)


# The Django model permissions routing writes need (the README's table); `staff_user` alone has none.
ROUTING_WRITES = [
    *(
        f"{action}_{model}"
        for model in ("provider", "model", "route")
        for action in ("add", "change", "delete")
    ),
    *("add_routingpolicy", "add_policyversion", "add_apikey", "change_apikey"),
]


@pytest.fixture
def routing_writer(staff_user):
    """`staff_user` with every routing write permission."""
    from django.contrib.auth.models import Permission

    staff_user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="routing", codename__in=ROUTING_WRITES)
    )
    return staff_user


@pytest.fixture
def staff_api(routing_writer) -> APIClient:
    """The staff REST client, as a staff user who may make every routing write."""
    client = APIClient()
    client.force_authenticate(routing_writer)
    return client


@pytest.fixture
def celery_worker_thread():
    """A real Celery worker, in a thread of this process, consuming every queue from the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import QUEUES, app

    with start_worker(
        app, pool="solo", queues=QUEUES, perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
    ) as w:
        yield w


@pytest.fixture(autouse=True)
def _fresh_hot_path_state():
    """Each test starts with an empty Redis test database and no cached routing snapshot or live state."""
    from routing.gateway import live
    from routing.gateway.execute import local_state_reset
    from routing.gateway.redis_client import get_redis
    from routing.gateway.snapshot import snapshot_cache

    get_redis().flushdb()
    snapshot_cache.clear()
    live.reset_cache()
    local_state_reset()
    yield
    snapshot_cache.clear()


@pytest.fixture
def simulator_clean(simulator):
    """The shared simulator with its faults, counters and seen-counts reset."""
    httpx.post(f"{simulator.url}/_sim/reset").raise_for_status()
    yield simulator
    httpx.post(f"{simulator.url}/_sim/reset").raise_for_status()


COMPLEXITY_SPEC = {
    "kind": "complexity",
    "tiers": {
        "simple": ["simulator/gpt-4o-mini"],
        "moderate": ["simulator/gpt-4o"],
        "complex": ["simulator/claude-opus-4-1"],
    },
}


@pytest.fixture
def live_route(simulator_clean):
    """A route `support-bot` on the simulated models, with a complexity policy and an API key."""
    from devtools.seed import registry_seed_simulator
    from routing import services

    models = registry_seed_simulator(base_url=f"{simulator_clean.url}/v1")
    route = services.route_create(name="support-bot", daily_budget_usd=Decimal("25"))
    version = services.policy_create(route=route, name="by-complexity", spec=COMPLEXITY_SPEC)
    api_key, raw = services.api_key_create(name="support app", routes=[route])
    return SimpleNamespace(
        route=route,
        version=version,
        api_key=api_key,
        key=raw,
        models=models,
        simulator=simulator_clean,
        auth={"HTTP_AUTHORIZATION": f"Bearer {raw}"},
    )


@pytest.fixture
def asgi_server(transactional_db):
    """routelab itself under a real ASGI server (uvicorn) on a free port, as in production."""
    from config.asgi import application
    from devtools.serving import serve_in_thread

    with serve_in_thread(application) as served:
        yield served.url


@pytest.fixture
def database_url(transactional_db) -> str:
    """The test database as a URL, for servers this test starts in processes of their own."""
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After the session, end connections left open by server and worker threads, so the test DB drops."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
