"""No call is lost when PostgreSQL stops and restarts in the middle of a burst of requests."""

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from django.db import connections

from routing.gateway.recorder import calls_flush, calls_waiting
from routing.models import Call

pytestmark = [pytest.mark.integration]

CLUSTERS = Path("/etc/postgresql")


def _pg_ctl(action: str) -> None:
    version = sorted(p.name for p in CLUSTERS.iterdir())[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _burst(url: str, key: str, count: int) -> list[int]:
    body = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        return [client.post("/v1/chat/completions", json=body).status_code for _ in range(count)]


@pytest.mark.skipif(
    not CLUSTERS.exists() or shutil.which("pg_ctlcluster") is None,
    reason="needs the machine's own PostgreSQL cluster (pg_ctlcluster) to stop and start it",
)
@pytest.mark.django_db(transaction=True)
def test_every_request_is_recorded_across_a_postgresql_restart(asgi_server, live_route):
    statuses = _burst(asgi_server, live_route.key, 20)  # warms the routing snapshot
    connections.close_all()
    _pg_ctl("stop")
    try:
        statuses += _burst(asgi_server, live_route.key, 30)  # served from memory while the database is down
        with pytest.raises(Exception):  # noqa: B017 - any database error: the records must stay queued
            calls_flush()
        assert calls_waiting() == 50
    finally:
        _pg_ctl("start")
    connections.close_all()
    statuses += _burst(asgi_server, live_route.key, 10)
    calls_flush()
    assert statuses.count(200) == 60
    assert Call.objects.count() == 60
    assert Call.objects.filter(status="ok").count() == 60
    assert calls_waiting() == 0
