"""Shared daily counters (a route's spend, a key's tokens and spend) in Redis: every amount counted once,
however many calls add to them at the same time, and kept while Redis fails."""

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync

from routing.gateway import live
from routing.gateway.redis_client import get_redis


@pytest.fixture
def counter():
    name = f"routelab:test:counter:{uuid.uuid4().hex}"
    yield name
    get_redis().delete(name)


def test_concurrent_additions_are_each_counted_once(counter):
    async def add_many():
        await asyncio.gather(*(live.counters_add({counter: 0.25}) for _ in range(200)))

    async_to_sync(add_many)()

    assert float(get_redis().get(counter)) == pytest.approx(50.0)
    assert counter not in live._unsent


def test_an_amount_redis_could_not_take_is_sent_with_the_next_addition(counter, monkeypatch):
    from routing.gateway import redis_client

    def unreachable():
        raise redis_client.redis.ConnectionError("Redis is down")

    monkeypatch.setattr(live, "get_async_redis", unreachable)
    async_to_sync(live.counters_add)({counter: 1.5})
    assert live._unsent[counter] == 1.5 and get_redis().get(counter) is None

    monkeypatch.undo()
    live.outage._until = float("-inf")  # the pause after the failure is over
    async_to_sync(live.counters_add)({counter: 0.5})
    assert float(get_redis().get(counter)) == pytest.approx(2.0)
    assert counter not in live._unsent
