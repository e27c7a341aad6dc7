"""The call queue: records reach PostgreSQL once; a record the database rejects never blocks the rest."""

import time
import uuid
from datetime import UTC, datetime

import pytest
from asgiref.sync import async_to_sync

from routing.gateway import live, recorder, redis_client
from routing.gateway.recorder import (
    DEAD_LETTERS,
    CallRecord,
    call_record_aenqueue,
    calls_flush,
    calls_waiting,
)
from routing.gateway.redis_client import get_redis
from routing.models import Call

call_record_enqueue = async_to_sync(call_record_aenqueue)

pytestmark = pytest.mark.django_db


def _record(**fields) -> CallRecord:
    now = datetime.now(UTC).isoformat()
    return CallRecord(
        id=uuid.uuid4().hex, source="proxy", status="ok", started_at=now, completed_at=now, **fields
    )


def test_a_record_is_stored_once_even_when_delivered_twice(live_route):
    record = _record(route_id=live_route.route.id)
    call_record_enqueue(record)
    call_record_enqueue(record)
    assert calls_flush() == 2
    assert Call.objects.filter(id=record.id).count() == 1
    assert calls_waiting() == 0


def test_a_record_the_database_rejects_is_set_aside_and_the_others_are_stored(live_route):
    good = [_record(route_id=live_route.route.id) for _ in range(3)]
    bad = _record(route_id=live_route.route.id, policy_version_id=987654)  # a policy version that is gone
    for record in (good[0], bad, *good[1:]):
        call_record_enqueue(record)
    calls_flush()
    assert set(Call.objects.values_list("id", flat=True)) == {uuid.UUID(r.id) for r in good}
    assert calls_waiting() == 0
    dead = get_redis().xrange(DEAD_LETTERS)
    assert len(dead) == 1 and b"rejected by the database" in dead[0][1][b"reason"]


def test_a_value_out_of_the_columns_range_is_set_aside_and_the_others_are_stored(live_route):
    good = _record(route_id=live_route.route.id)
    bad = _record(route_id=live_route.route.id, input_tokens=2**40)  # PostgreSQL's integer stops at 2**31 - 1
    call_record_enqueue(bad)
    call_record_enqueue(good)
    calls_flush()
    assert list(Call.objects.values_list("id", flat=True)) == [uuid.UUID(good.id)]
    assert calls_waiting() == 0
    assert len(get_redis().xrange(DEAD_LETTERS)) == 1


def test_nul_characters_and_lone_surrogates_are_stored_as_replacement_characters(live_route):
    record = _record(
        route_id=live_route.route.id,
        prompt="a\x00b",
        answer="c\ud800d",
        metadata={"feature": "e\x00"},
        attempts=[{"error": "f\x00"}],
    )
    call_record_enqueue(record)
    calls_flush()
    call = Call.objects.get()
    assert (call.prompt, call.answer) == ("a\ufffdb", "c?d")
    assert call.metadata == {"feature": "e\ufffd"} and call.attempts == [{"error": "f\ufffd"}]


def test_an_unreadable_record_is_set_aside(live_route):
    get_redis().xadd("routelab:calls", {"record": b"{not json"})
    call_record_enqueue(_record(route_id=live_route.route.id))
    calls_flush()
    assert Call.objects.count() == 1
    assert len(get_redis().xrange(DEAD_LETTERS)) == 1


def test_a_record_and_its_counters_travel_together_and_wait_together_while_redis_fails(
    live_route, monkeypatch
):
    counter = f"routelab:test-counter:{uuid.uuid4().hex}"
    sent = _record(route_id=live_route.route.id)
    call_record_enqueue(sent, counters={counter: 0.25})
    assert float(get_redis().get(counter)) == pytest.approx(0.25) and calls_waiting() == 1

    def unreachable():
        raise redis_client.redis.ConnectionError("Redis is down")

    monkeypatch.setattr(recorder, "get_async_redis", unreachable)
    spooled = _record(route_id=live_route.route.id)
    call_record_enqueue(spooled, counters={counter: 1.0})
    assert live._unsent[counter] == 1.0 and float(get_redis().get(counter)) == pytest.approx(0.25)

    monkeypatch.undo()
    live.outage._until = float("-inf")  # the pause after the failure is over
    call_record_enqueue(_record(route_id=live_route.route.id), counters={counter: 0.5})
    assert float(get_redis().get(counter)) == pytest.approx(1.75) and counter not in live._unsent
    calls_flush()
    assert Call.objects.filter(id__in=[sent.id, spooled.id]).count() == 2  # the spool drained on return


OK_ATTEMPTS = [{"model": "simulator/gpt-4o-mini", "status": "ok", "latency_ms": 12.5}]


def _window_entries(model_key: str) -> list[bytes]:
    return get_redis().lrange(f"routelab:lat:{{{model_key}}}", 0, -1)


def test_the_answering_models_successes_go_with_the_record_onto_its_breaker_and_latency_window(live_route):
    from routing.gateway.execute import Successes

    record = _record(route_id=live_route.route.id, attempts=OK_ATTEMPTS)
    call_record_enqueue(record, also=Successes.of(record.attempts))
    assert calls_waiting() == 1
    [entry] = _window_entries("simulator/gpt-4o-mini")
    assert entry.decode().endswith(":12.500:1")
    assert get_redis().hget("routelab:cb:{simulator/gpt-4o-mini}:state", "seq") == b"1"


def test_after_redis_lost_its_scripts_the_successes_are_written_again_by_loading_them(live_route):
    from routing.gateway.execute import Successes

    get_redis().script_flush()  # what a restarted Redis holds
    record = _record(route_id=live_route.route.id, attempts=OK_ATTEMPTS)
    call_record_enqueue(record, also=Successes.of(record.attempts))
    assert calls_waiting() == 1
    assert len(_window_entries("simulator/gpt-4o-mini")) == 1
    assert get_redis().hget("routelab:cb:{simulator/gpt-4o-mini}:state", "seq") == b"1"


def test_while_redis_fails_a_success_closes_this_processs_own_half_open_circuit(
    live_route, monkeypatch, settings
):
    from routing.gateway.execute import Successes, _breaker_limits, _local_breaker

    settings.BREAKER_OPEN_SECONDS = 0.1
    local = _local_breaker(tuple(sorted(_breaker_limits().items())))
    for _ in range(settings.BREAKER_FAILURE_THRESHOLD):
        async_to_sync(local.record_failure)("simulator/gpt-4o-mini")
    time.sleep(0.15)
    assert async_to_sync(local.admission)("simulator/gpt-4o-mini") == "probe"

    def unreachable():
        raise redis_client.redis.ConnectionError("Redis is down")

    monkeypatch.setattr(recorder, "get_async_redis", unreachable)
    record = _record(route_id=live_route.route.id, attempts=OK_ATTEMPTS)
    call_record_enqueue(record, also=Successes.of(record.attempts))
    assert async_to_sync(local.state)("simulator/gpt-4o-mini") == "closed"

    monkeypatch.undo()  # the spooled record is stored once Redis answers, as any other
    live.outage._until = float("-inf")
    calls_flush()
    assert Call.objects.filter(id=record.id).exists()
