"""Live routing state in Redis: each model's latency window, and each route's spend today.

Read through a per-process cache refreshed at most once a second, so a request normally reads memory.
"""

from __future__ import annotations

import math
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

import redis

from routing.gateway.redis_client import get_async_redis, outage
from routing.gateway.resilience import LatencyWindow
from routing.gateway.snapshot import RouteEntry, RoutingSnapshot
from routing.policies.types import ModelStats

REFRESH_SECONDS = 1.0
SPEND_PREFIX = "routelab:spend"
KEY_USAGE_PREFIX = "routelab:keyuse"


@dataclass(frozen=True)
class LiveState:
    stats: dict[str, ModelStats]
    budget_remaining: float | None


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _spend_key(route_id: int) -> str:
    return f"{SPEND_PREFIX}:{route_id}:{_today()}"


def key_usage_keys(key_id: int) -> tuple[str, str]:
    """A key's counters today: its tokens (input plus output) and its spend in dollars."""
    day = _today()
    return f"{KEY_USAGE_PREFIX}:{key_id}:tokens:{day}", f"{KEY_USAGE_PREFIX}:{key_id}:spend:{day}"


def seconds_to_midnight() -> int:
    """Until the UTC day's counters start again: a daily limit's Retry-After."""
    now = datetime.now(UTC)
    return max(
        1, math.ceil(86400 - (now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds())
    )


class _LiveCache:
    def __init__(self):
        self.stats: dict[str, ModelStats] = {}
        self.spend: dict[int, float] = {}
        self.counters: dict[str, float] = {}  # keys' usage today, for the keys that have daily limits
        self.loaded_at = float("-inf")

    async def refresh(self, snapshot: RoutingSnapshot) -> None:
        if time.monotonic() - self.loaded_at < REFRESH_SECONDS:
            return
        self.loaded_at = time.monotonic()
        if outage.skipping():
            return
        client = get_async_redis()
        try:
            window = await latency_window().stats(list(snapshot.models))
            route_ids = [route.id for route in snapshot.routes.values()]
            counters = [
                name for key in snapshot.keys.values() if key.limits.daily for name in key_usage_keys(key.id)
            ]
            names = [_spend_key(rid) for rid in route_ids] + counters
            values = await client.mget(names) if names else []
        except redis.RedisError:
            outage.failed()
            return  # keep the last known state; routing must not fail because stats are stale
        self.stats = {
            key: ModelStats(s.p50_ms, s.p95_ms, s.success_rate, s.samples)
            for key, s in window.items()
            if s.samples and s.p50_ms is not None and s.success_rate is not None
        }
        counted = {name: float(value or 0) for name, value in zip(names, values, strict=True)}
        self.spend = {rid: counted[_spend_key(rid)] for rid in route_ids}
        self.counters = {name: counted[name] for name in counters}

    def count(self, name: str) -> float:
        """A counter as last read, plus what this process has added since that Redis has not."""
        return self.counters.get(name, 0.0) + _unsent.get(name, 0.0)


_cache = _LiveCache()


async def live_state(snapshot: RoutingSnapshot, route: RouteEntry) -> LiveState:
    await _cache.refresh(snapshot)
    budget = route.daily_budget_usd
    spent = _cache.spend.get(route.id, 0.0) + _unsent.get(_spend_key(route.id), 0.0)
    remaining = None if budget is None else max(budget - spent, 0.0)
    return LiveState(stats=_cache.stats, budget_remaining=remaining)


async def key_usage_today(snapshot: RoutingSnapshot, key_id: int) -> tuple[float, float]:
    """A key's tokens and spend today, as of at most a second ago."""
    await _cache.refresh(snapshot)
    tokens, spend = key_usage_keys(key_id)
    return _cache.count(tokens), _cache.count(spend)


_windows: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # async Redis client -> its window


def latency_window() -> LatencyWindow:
    """The models' latency windows, made once per Redis client (per event loop)."""
    client = get_async_redis()
    window = _windows.get(client)
    if window is None:
        window = _windows[client] = LatencyWindow(client)
    return window


async def record_outcome(model_key: str, latency_ms: float, ok: bool) -> None:
    if outage.skipping():
        return  # live stats are advisory
    try:
        await latency_window().record(model_key, latency_ms, ok)
    except redis.RedisError:
        outage.failed()


# Spend this process could not add to Redis (counter key -> dollars): added with the next that succeeds,
# and counted meanwhile by this process's own budget checks.
_unsent: dict[str, float] = {}


COUNTER_TTL_SECONDS = 3 * 86400


def counters_take(amounts: dict[str, float]) -> dict[str, float]:
    """Add `amounts` to this process's pending tally and take the whole tally out for one round trip;
    nothing while Redis is known to be down (the tally waits for the next call that reaches it).
    Taken out before the round trip, so a concurrent call never sends the same amounts again."""
    for key, amount in amounts.items():
        if amount > 0:
            _unsent[key] = _unsent.get(key, 0.0) + amount
    if not _unsent or outage.skipping():
        return {}
    pending = dict(_unsent)
    _unsent.clear()
    return pending


def counters_queue(pipe, pending: dict[str, float], ttl_seconds: int = COUNTER_TTL_SECONDS) -> None:
    """The additions of `pending` on a Redis pipeline (a transaction, so they land all or none)."""
    for key, amount in pending.items():
        pipe.incrbyfloat(key, amount).expire(key, ttl_seconds)


def counters_put_back(pending: dict[str, float]) -> None:
    """Redis failed: the amounts wait in the tally for the next call that reaches Redis."""
    outage.failed()
    for key, amount in pending.items():
        _unsent[key] = _unsent.get(key, 0.0) + amount


async def counters_add(amounts: dict[str, float], ttl_seconds: int = COUNTER_TTL_SECONDS) -> None:
    """Add to shared daily counters (a route's spend, a key's tokens); kept here while Redis fails."""
    if not (pending := counters_take(amounts)):
        return
    try:
        async with get_async_redis().pipeline(transaction=True) as pipe:
            counters_queue(pipe, pending, ttl_seconds)
            await pipe.execute()
    except redis.RedisError:
        counters_put_back(pending)


def spend_amounts(route_id: int | None, key_id: int | None, cost: float, tokens: int) -> dict[str, float]:
    """A call's spend on its route's budget, and its tokens and spend on its key's daily usage."""
    amounts = {}
    if route_id is not None:
        amounts[_spend_key(route_id)] = cost
    if key_id is not None:
        key_tokens, key_spend = key_usage_keys(key_id)
        amounts |= {key_tokens: float(tokens), key_spend: cost}
    return amounts


async def record_spend(route_id: int | None, key_id: int | None, cost: float, tokens: int) -> None:
    await counters_add(spend_amounts(route_id, key_id, cost, tokens))


def reset_cache() -> None:
    """Forget the cached live state (tests, and after Redis was flushed)."""
    global _cache
    _cache = _LiveCache()
    _unsent.clear()
