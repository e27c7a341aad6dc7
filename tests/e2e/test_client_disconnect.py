"""A client that hangs up still leaves its call row: the provider may already have been paid."""

import asyncio
import json
import time

import httpx
import pytest

from devtools.seed import registry_seed_simulator
from devtools.serving import serve_in_thread
from routing import services
from routing.gateway.recorder import calls_flush
from routing.models import Call
from tests.upstreams import receive_json

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


class StallingStream:
    """An OpenAI-compatible upstream that streams its first words, then stalls for `seconds`."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        await receive_json(receive)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        delta = {"index": 0, "delta": {"content": "Paris is"}, "finish_reason": None}
        first = {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m1",
            "choices": [delta],
        }
        await send(
            {
                "type": "http.response.body",
                "body": f"data: {json.dumps(first)}\n\n".encode(),
                "more_body": True,
            }
        )
        await asyncio.sleep(self.seconds)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})


def test_a_client_that_hangs_up_mid_stream_leaves_a_cancelled_call(asgi_server, live_route):
    served = serve_in_thread(StallingStream(5.0), name="stalling-upstream")
    try:
        registry_seed_simulator(base_url=f"{served.url}/v1", name="stalling")
        route = services.route_create(name="stalls")
        spec = {"kind": "rules", "rules": [], "default": "stalling/gpt-4o-mini"}
        services.policy_create(route=route, name="only", spec=spec)
        _, key = services.api_key_create(name="stalls", routes=[route])
        with httpx.stream(
            "POST",
            f"{asgi_server}/v1/chat/completions",
            json={**FRANCE, "stream": True},
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            assert response.status_code == 200
            received = b""
            for part in response.iter_bytes():  # to the first words, then hang up
                received += part
                if b"Paris is" in received:
                    break
        call = _one_call()
    finally:
        served.stop()
    assert call.status == "cancelled" and call.error_kind == "client_disconnected"
    assert call.stream is True
