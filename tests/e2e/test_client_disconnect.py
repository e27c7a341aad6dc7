"""A client that hangs up still leaves its call row: the provider may already have been paid."""

import time

import httpx
import pytest

from routing.gateway.recorder import calls_flush
from routing.models import Call

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FRANCE = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}


def _slow_upstream(asgi_server, live_route, seconds: float) -> None:
    """A first request loads the routing snapshot; then every model holds its answer `seconds`."""
    warm = httpx.post(
        f"{asgi_server}/v1/chat/completions",
        json=FRANCE,
        headers={"Authorization": f"Bearer {live_route.key}"},
    )
    assert warm.status_code == 200
    assert calls_flush() == 1
    Call.objects.all().delete()
    httpx.post(
        f"{live_route.simulator.url}/_sim/faults",
        json={"model": "*", "timeout_rate": 1.0, "timeout_seconds": seconds},
    ).raise_for_status()


def _one_call(timeout: float = 10) -> Call:
    deadline = time.monotonic() + timeout
    while not calls_flush() and not Call.objects.exists():
        assert time.monotonic() < deadline, "no call row was recorded"
        time.sleep(0.1)
    return Call.objects.get()


def test_a_client_that_hangs_up_before_the_answer_leaves_a_cancelled_call(asgi_server, live_route):
    _slow_upstream(asgi_server, live_route, 1.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{asgi_server}/v1/chat/completions",
            json=FRANCE,
            headers={"Authorization": f"Bearer {live_route.key}"},
            timeout=httpx.Timeout(10, read=0.3),
        )
    call = _one_call()
    assert call.status == "cancelled" and call.error_kind == "client_disconnected"


def test_a_client_that_hangs_up_mid_stream_leaves_a_cancelled_call(asgi_server, live_route):
    _slow_upstream(asgi_server, live_route, 1.0)
    headers = {"Authorization": f"Bearer {live_route.key}"}
    with httpx.stream(
        "POST", f"{asgi_server}/v1/chat/completions", json={**FRANCE, "stream": True}, headers=headers
    ) as response:
        assert response.status_code == 200
        next(response.iter_bytes())  # the first chunk, then hang up
    call = _one_call()
    assert call.status == "cancelled" and call.error_kind == "client_disconnected"
    assert call.stream is True
