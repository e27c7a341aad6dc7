"""Process-wide Redis clients for hot-path state (cache generation, breakers, call queue)."""

from __future__ import annotations

import asyncio
import weakref
from functools import cache

import redis
import redis.asyncio as aioredis
from django.conf import settings

from routing.gateway.resilience import Outage

_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def get_async_redis() -> aioredis.Redis:
    """One client per event loop: a redis.asyncio connection belongs to the loop that opened it."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        _async_clients[loop] = client
    return client


# What this process knows of Redis's health: shared state degrades to process-local while it fails.
outage = Outage()
