"""Shared resilience state in Redis: circuit breakers, token buckets and rolling latency windows.

Pure Python over `redis.asyncio`, no Django. Every operation that reads and writes runs as one Lua
script, so it is atomic across all processes that share the Redis server. Time comes from the caller's
`clock` (seconds, `time.time` by default) and is passed to the scripts, so tests can move it by hand;
hosts sharing a Redis are expected to keep their clocks in sync (NTP).

Backoff with jitter lives in `routing.providers.base.RetryPolicy.delay`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError

Clock = Callable[[], float]
BreakerState = Literal["closed", "open", "half_open"]
Admission = Literal["closed", "probe", "refused"]  # a call let through a closed circuit, or as a probe
_ADMISSIONS: tuple[Admission, ...] = ("refused", "probe", "closed")

_MIN_STATE_TTL_SECONDS = 86_400


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# --- circuit breaker ---------------------------------------------------------------------------------

# KEYS: state hash. ARGV: now, open_seconds, half_open_probes, state ttl.
# A probe that never reports frees its slot after open_seconds, so a crashed process cannot wedge it.
_ALLOW_LUA = """
local now, open_seconds, max_probes = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'state', 'opened_at', 'probes', 'probe_at')
local state = s[1] or 'closed'
if state == 'closed' then return 2 end
local probes = tonumber(s[3]) or 0
if state == 'open' then
  if now - tonumber(s[2]) < open_seconds then return 0 end
  redis.call('HSET', KEYS[1], 'state', 'half_open')
  probes = 0
elseif probes >= max_probes and now - (tonumber(s[4]) or 0) >= open_seconds then
  probes = 0
end
if probes >= max_probes then return 0 end
redis.call('HSET', KEYS[1], 'probes', probes + 1, 'probe_at', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# KEYS: state hash, calls zset, failures zset (score = time, member = sequence number).
# ARGV: now, ok (1/0), failure_threshold, window_seconds, min_calls, error_rate_threshold,
#       state ttl, window ttl. Returns the state after the outcome.
_RECORD_LUA = """
local now, ok = tonumber(ARGV[1]), ARGV[2] == '1'
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'open' then return state end
if state == 'half_open' then
  if ok then
    redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
    return 'closed'
  end
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1], 'probes', 0)
  return 'open'
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local failures = 0
redis.call('ZADD', KEYS[2], ARGV[1], seq)
if ok then
  redis.call('HSET', KEYS[1], 'failures', 0)
else
  failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
  redis.call('ZADD', KEYS[3], ARGV[1], seq)
end
local horizon = now - tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', horizon)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', horizon)
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[8])
redis.call('EXPIRE', KEYS[3], ARGV[8])
if ok then return 'closed' end
local calls, failed = redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3])
local by_rate = calls >= tonumber(ARGV[5]) and failed >= tonumber(ARGV[6]) * calls
if failures >= tonumber(ARGV[3]) or by_rate then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1], 'probes', 0, 'failures', 0)
  redis.call('DEL', KEYS[2], KEYS[3])
  return 'open'
end
return 'closed'
"""


@dataclass(frozen=True)
class BreakerSnapshot:
    """One breaker as a dashboard shows it; counts cover the closed state's sliding window."""

    state: BreakerState
    consecutive_failures: int
    window_calls: int
    window_failures: int
    opened_at: float | None


class CircuitBreaker:
    """A circuit breaker per key (a model such as "simulator/gpt-4o"), shared by every process.

    Closed: calls pass; `failure_threshold` consecutive failures, or an error rate of at least
    `error_rate_threshold` over at least `min_calls` calls in the last `window_seconds`, open it.
    Open: calls are refused for `open_seconds`, then it is half-open and lets at most
    `half_open_probes` concurrent probes through. A probe success closes it, a failure re-opens it.
    Outcomes reported while open (calls started before it opened) change nothing.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "routelab:cb",
        failure_threshold: int = 5,
        window_seconds: float = 30.0,
        min_calls: int = 10,
        error_rate_threshold: float = 0.5,
        open_seconds: float = 15.0,
        half_open_probes: int = 1,
        clock: Clock = time.time,
    ) -> None:
        _require(failure_threshold >= 1 and min_calls >= 1, "failure_threshold and min_calls must be >= 1")
        _require(window_seconds > 0 and open_seconds > 0, "window_seconds and open_seconds must be > 0")
        _require(0 < error_rate_threshold <= 1, "error_rate_threshold must be in (0, 1]")
        _require(half_open_probes >= 1, "half_open_probes must be >= 1")
        self.redis, self.prefix, self.clock = redis, prefix, clock
        self.failure_threshold = failure_threshold
        self.window_seconds = window_seconds
        self.min_calls = min_calls
        self.error_rate_threshold = error_rate_threshold
        self.open_seconds = open_seconds
        self.half_open_probes = half_open_probes
        self._state_ttl = max(_MIN_STATE_TTL_SECONDS, math.ceil(2 * max(open_seconds, window_seconds)))
        window_ttl = math.ceil(window_seconds) + 1
        limits = [failure_threshold, window_seconds, min_calls, error_rate_threshold]
        self._record_settings = [*limits, self._state_ttl, window_ttl]
        self._allow = redis.register_script(_ALLOW_LUA)
        self._record = redis.register_script(_RECORD_LUA)

    def keys_for(self, key: str) -> list[str]:
        """The state hash and the window's calls and failures sets; the hash tag keeps them in one slot."""
        base = f"{self.prefix}:{{{key}}}"
        return [f"{base}:state", f"{base}:calls", f"{base}:failures"]

    async def allow(self, key: str) -> bool:
        return await self.admission(key) != "refused"

    async def admission(self, key: str) -> Admission:
        """Whether a call may go: through a closed circuit, as a half-open circuit's probe, or not."""
        args = [repr(self.clock()), self.open_seconds, self.half_open_probes, self._state_ttl]
        return _ADMISSIONS[int(await self._allow(keys=self.keys_for(key)[:1], args=args))]

    async def record_success(self, key: str) -> None:
        await self._record_outcome(key, ok=True)

    async def record_failure(self, key: str) -> None:
        await self._record_outcome(key, ok=False)

    async def _record_outcome(self, key: str, *, ok: bool) -> None:
        await self._record(keys=self.keys_for(key), args=self._outcome_args(ok))

    def queue_outcome(self, pipe, key: str, *, ok: bool) -> None:
        """The outcome as one command on `pipe`, for a caller that sends several writes in one round
        trip. Its reply is the state after, or a NoScriptError when Redis does not hold the script yet
        (a restarted Redis): `record_success`/`record_failure` then load it and write."""
        pipe.evalsha(self._record.sha, 3, *self.keys_for(key), *self._outcome_args(ok))

    def _outcome_args(self, ok: bool) -> list:
        return [repr(self.clock()), int(ok), *self._record_settings]

    async def state(self, key: str) -> BreakerState:
        return (await self.snapshot([key]))[key].state

    async def snapshot(self, keys: Iterable[str]) -> dict[str, BreakerSnapshot]:
        """Every key's breaker in one round trip. An open breaker past open_seconds reads half_open."""
        keys, now = list(keys), self.clock()
        horizon = f"({now - self.window_seconds!r}"
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                state_key, calls_key, failures_key = self.keys_for(key)
                pipe.hgetall(state_key)
                pipe.zcount(calls_key, horizon, "+inf")
                pipe.zcount(failures_key, horizon, "+inf")
            replies = await pipe.execute()
        return {key: self._read_snapshot(now, *replies[3 * i : 3 * i + 3]) for i, key in enumerate(keys)}

    def _read_snapshot(self, now: float, fields: dict, calls: int, failures: int) -> BreakerSnapshot:
        fields = {_text(name): _text(value) for name, value in fields.items()}
        state = fields.get("state", "closed")
        opened_at = float(fields["opened_at"]) if state != "closed" else None
        if state == "open" and now - opened_at >= self.open_seconds:
            state = "half_open"
        if state != "closed":
            calls = failures = 0
        return BreakerSnapshot(state, int(fields.get("failures", 0)), calls, failures, opened_at)

    async def reset(self, key: str) -> None:
        await self.redis.delete(*self.keys_for(key))


class ClosedLeases:
    """This process's memory that a model's circuit was closed a moment ago. While a lease holds, a call
    to that model goes without the round trip that asks: a circuit another process opens is seen within
    `seconds`, one this process sees fail ends its lease at once. A half-open circuit's probe never
    makes a lease, so probing stays one call at a time."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self._until: dict[str, float] = {}

    def holds(self, key: str) -> bool:
        return self._until.get(key, float("-inf")) > self.clock()

    def grant(self, key: str) -> None:
        if self.seconds > 0:
            self._until[key] = self.clock() + self.seconds

    def end(self, key: str) -> None:
        self._until.pop(key, None)


# --- token bucket ------------------------------------------------------------------------------------

# KEYS: bucket hash (tokens, ts). ARGV: now, rate_per_second, capacity, cost.
# Returns "0" when granted, else the seconds until `cost` tokens will be there (as a string:
# Lua numbers come back from Redis truncated to integers).
_ACQUIRE_LUA = """
local now, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local capacity, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(b[1]) or capacity, tonumber(b[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
ts = math.max(ts, now)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'ts', string.format('%.17g', ts))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
return string.format('%.17g', wait)
"""


class TokenBucket:
    """A token bucket per key (a provider's requests or tokens per minute), shared by every process.

    A bucket holds at most `capacity` tokens and refills at `rate_per_second`; a missing bucket is full.
    Its hash expires once it would be full again, so idle buckets cost nothing.
    """

    def __init__(self, redis: Redis, *, prefix: str = "routelab:tb", clock: Clock = time.time) -> None:
        self.redis, self.prefix, self.clock = redis, prefix, clock
        self._acquire = redis.register_script(_ACQUIRE_LUA)

    def key_for(self, key: str) -> str:
        return f"{self.prefix}:{{{key}}}"

    async def acquire(self, key: str, *, rate_per_second: float, capacity: float, cost: float = 1.0) -> float:
        """0.0 when `cost` tokens were taken; else the seconds to wait for them (nothing taken).

        A cost above the capacity can never be granted: math.inf, without touching Redis.
        """
        _require(rate_per_second > 0 and capacity > 0, "rate_per_second and capacity must be > 0")
        _require(cost >= 0, "cost must be >= 0")
        if cost > capacity:
            return math.inf
        return await self._take(key, float(rate_per_second), float(capacity), float(cost))

    async def _take(self, key: str, rate_per_second: float, capacity: float, cost: float) -> float:
        args = [repr(self.clock()), repr(rate_per_second), repr(capacity), repr(cost)]
        return float(await self._acquire(keys=[self.key_for(key)], args=args))

    async def wait_and_acquire(
        self, key: str, *, rate_per_second: float, capacity: float, cost: float = 1.0, max_wait: float
    ) -> bool:
        """Sleep until the tokens are taken (True), or False as soon as that would take past max_wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while True:
            wait = await self.acquire(key, rate_per_second=rate_per_second, capacity=capacity, cost=cost)
            if wait == 0.0:
                return True
            if wait > deadline - loop.time():
                return False
            await asyncio.sleep(wait)


# --- latency window ----------------------------------------------------------------------------------

# KEYS: outcome list, newest first. ARGV: entry "ts:latency_ms:ok", size, ttl seconds.
_RECORD_LATENCY_LUA = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


@dataclass(frozen=True)
class WindowStats:
    """Recent outcomes of one key; latencies cover successful calls only, None when there are none."""

    p50_ms: float | None
    p95_ms: float | None
    success_rate: float | None
    samples: int


def nearest_rank(sorted_values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile: the value at rank ceil(percent / 100 * n), 1-based, of the sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def window_stats(entries: Iterable[bytes | str], since: float) -> WindowStats:
    """Stats over the "ts:latency_ms:ok" entries recorded at or after `since`."""
    outcomes = []
    for entry in entries:
        ts, latency, ok = _text(entry).split(":")
        if float(ts) >= since:
            outcomes.append((float(latency), ok == "1"))
    latencies = sorted(latency for latency, ok in outcomes if ok)
    success_rate = len(latencies) / len(outcomes) if outcomes else None
    return WindowStats(nearest_rank(latencies, 50), nearest_rank(latencies, 95), success_rate, len(outcomes))


class LatencyWindow:
    """The last `size` outcomes per key (a model), read over the last `window_seconds`."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "routelab:lat",
        size: int = 200,
        window_seconds: float = 300,
        clock: Clock = time.time,
    ) -> None:
        _require(size >= 1 and window_seconds > 0, "size must be >= 1 and window_seconds > 0")
        self.redis, self.prefix, self.size, self.clock = redis, prefix, size, clock
        self.window_seconds = window_seconds
        self._record = redis.register_script(_RECORD_LATENCY_LUA)

    def key_for(self, key: str) -> str:
        return f"{self.prefix}:{{{key}}}"

    async def record(self, key: str, latency_ms: float, ok: bool) -> None:
        await self._record(keys=[self.key_for(key)], args=self._record_args(latency_ms, ok))

    def queue_record(self, pipe, key: str, latency_ms: float, ok: bool) -> None:
        """`record` as one command on `pipe` (see `CircuitBreaker.queue_outcome`)."""
        pipe.evalsha(self._record.sha, 1, self.key_for(key), *self._record_args(latency_ms, ok))

    def _record_args(self, latency_ms: float, ok: bool) -> list:
        _require(math.isfinite(latency_ms) and latency_ms >= 0, "latency_ms must be a finite number >= 0")
        entry = f"{self.clock():.6f}:{latency_ms:.3f}:{int(ok)}"
        return [entry, self.size, math.ceil(self.window_seconds) + 1]

    async def stats(self, keys: Iterable[str]) -> dict[str, WindowStats]:
        """Every key's stats in one round trip."""
        keys = list(keys)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.lrange(self.key_for(key), 0, self.size - 1)
            replies = await pipe.execute()
        since = self.clock() - self.window_seconds
        return {key: window_stats(entries, since) for key, entries in zip(keys, replies, strict=True)}


# --- process-local fallbacks while Redis is unreachable ----------------------------------------------


class Outage:
    """This process's view of Redis: after an error, hot-path state skips Redis for `pause_seconds`
    (so a dead Redis costs one failed round trip per pause, not one per call), and `seen` stays set
    until `take_seen` reads it, so the routing snapshot knows to compare with the database."""

    def __init__(self, pause_seconds: float = 1.0, clock: Clock = time.monotonic) -> None:
        self.pause_seconds, self.clock = pause_seconds, clock
        self._until = float("-inf")
        self._seen = False

    def skipping(self) -> bool:
        return self.clock() < self._until

    def failed(self) -> None:
        self._until = self.clock() + self.pause_seconds
        self._seen = True

    def take_seen(self) -> bool:
        seen, self._seen = self._seen, False
        return seen


class Degrading:
    """`primary`'s async methods (Redis-backed, shared by every process); while Redis fails, the same
    method of `fallback` (process-local), so a Redis outage narrows what is shared but fails nothing."""

    def __init__(self, primary, fallback, outage: Outage) -> None:
        self._primary, self._fallback, self._outage = primary, fallback, outage

    def __getattr__(self, name: str):
        async def call(*args, **kwargs):
            if not self._outage.skipping():
                try:
                    return await getattr(self._primary, name)(*args, **kwargs)
                except RedisError:
                    self._outage.failed()
            return await getattr(self._fallback, name)(*args, **kwargs)

        return call


@dataclass
class _LocalCircuit:
    state: BreakerState = "closed"
    opened_at: float = 0.0
    failures: int = 0
    probes: int = 0
    probe_at: float = 0.0
    window: list[tuple[float, bool]] | None = None


class LocalBreaker:
    """The same breaker as `CircuitBreaker`, in this process's memory (what it falls back to)."""

    def __init__(self, *, clock: Clock = time.time, **limits) -> None:
        self.clock = clock
        self.failure_threshold = limits.get("failure_threshold", 5)
        self.window_seconds = limits.get("window_seconds", 30.0)
        self.min_calls = limits.get("min_calls", 10)
        self.error_rate_threshold = limits.get("error_rate_threshold", 0.5)
        self.open_seconds = limits.get("open_seconds", 15.0)
        self.half_open_probes = limits.get("half_open_probes", 1)
        self._circuits: dict[str, _LocalCircuit] = {}

    def _circuit(self, key: str) -> _LocalCircuit:
        return self._circuits.setdefault(key, _LocalCircuit(window=[]))

    async def allow(self, key: str) -> bool:
        return await self.admission(key) != "refused"

    async def admission(self, key: str) -> Admission:
        c, now = self._circuit(key), self.clock()
        if c.state == "closed":
            return "closed"
        if c.state == "open":
            if now - c.opened_at < self.open_seconds:
                return "refused"
            c.state, c.probes = "half_open", 0
        elif c.probes >= self.half_open_probes and now - c.probe_at >= self.open_seconds:
            c.probes = 0
        if c.probes >= self.half_open_probes:
            return "refused"
        c.probes, c.probe_at = c.probes + 1, now
        return "probe"

    async def record_success(self, key: str) -> None:
        self._record(key, ok=True)

    async def record_failure(self, key: str) -> None:
        self._record(key, ok=False)

    def _record(self, key: str, *, ok: bool) -> None:
        c, now = self._circuit(key), self.clock()
        if c.state == "half_open":
            self._circuits[key] = _LocalCircuit(window=[]) if ok else self._opened(now)
            return
        if c.state == "open":
            return
        c.failures = 0 if ok else c.failures + 1
        c.window = [(ts, was_ok) for ts, was_ok in c.window if ts > now - self.window_seconds]
        c.window.append((now, ok))
        failed = sum(1 for _, was_ok in c.window if not was_ok)
        by_rate = len(c.window) >= self.min_calls and failed >= self.error_rate_threshold * len(c.window)
        if not ok and (c.failures >= self.failure_threshold or by_rate):
            self._circuits[key] = self._opened(now)

    @staticmethod
    def _opened(now: float) -> _LocalCircuit:
        return _LocalCircuit(state="open", opened_at=now, window=[])

    async def state(self, key: str) -> BreakerState:
        return (await self.snapshot([key]))[key].state

    async def snapshot(self, keys: Iterable[str]) -> dict[str, BreakerSnapshot]:
        now, snapshots = self.clock(), {}
        for key in keys:
            c = self._circuits.get(key) or _LocalCircuit(window=[])
            recent = [ok for ts, ok in c.window if ts > now - self.window_seconds]
            state = "half_open" if c.state == "open" and now - c.opened_at >= self.open_seconds else c.state
            calls, failures = (len(recent), recent.count(False)) if state == "closed" else (0, 0)
            opened_at = c.opened_at if state != "closed" else None
            snapshots[key] = BreakerSnapshot(state, c.failures, calls, failures, opened_at)
        return snapshots

    async def reset(self, key: str) -> None:
        self._circuits.pop(key, None)


class LocalTokenBucket(TokenBucket):
    """The same buckets as `TokenBucket`, in this process's memory (what it falls back to)."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    async def _take(self, key: str, rate_per_second: float, capacity: float, cost: float) -> float:
        now = self.clock()
        tokens, ts = self._buckets.get(key, (capacity, now))
        tokens, ts = min(capacity, tokens + max(0.0, now - ts) * rate_per_second), max(ts, now)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / rate_per_second
        self._buckets[key] = (tokens, ts)
        return wait
