"""The gateway keeps serving and recording while its Redis is stopped or killed -9 under open-loop traffic.

A drill of devtools.faults: its own simulator, PostgreSQL and Redis (with an append-only file, restarted
on the same port), routelab under uvicorn in another process with production-like settings, 20 requests
a second for 22 s (half streamed) with Redis down for 10 s of them; then every waiting record flushed,
the server's spool included, and the call rows counted against the requests and their decision ids.
`bench/faults.py` runs the same drills and prints their figures.
"""

import pytest

from devtools.faults.drill import Stack

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with Stack(tmp_path_factory.mktemp("faults")) as running:
        yield running


@pytest.mark.parametrize("fault", ["redis-stop", "redis-kill"])
def test_a_redis_outage_under_traffic_fails_no_request_and_loses_no_call(stack, fault):
    result = stack.drill(stack.faults()[fault])

    assert result.requests == 440 and result.part(stream=True).requests == 220
    assert result.succeeded >= 0.999 * result.requests, result.summary()
    assert len(result.rows) == result.requests == len(set(result.decision_ids)), result.summary()
    assert set(result.rows) == set(result.decision_ids), result.summary()
