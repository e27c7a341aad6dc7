"""Resilience state against the real Redis: each test runs in its own key prefix and removes it after."""

from __future__ import annotations

import asyncio
import math
import os
import uuid

from redis.asyncio import Redis

from routing.gateway.resilience import (
    CircuitBreaker,
    ClosedLeases,
    LatencyWindow,
    LocalBreaker,
    LocalTokenBucket,
    TokenBucket,
    WindowStats,
    nearest_rank,
)

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
MODEL = "simulator/gpt-4o"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Env:
    """A Redis client, a fresh key prefix and a fake clock; more clients stand for more processes.

    With `local`, breakers and buckets are the process-local ones the gateway falls back to while Redis
    fails: the single-process tests run against both, so the fallback behaves as the shared state does.
    """

    def __init__(self, local: bool = False) -> None:
        self.local = local
        self.prefix = f"test:resilience:{uuid.uuid4().hex}"
        self.clock = FakeClock()
        self.clients: list[Redis] = []
        self.redis = self.new_client()

    def new_client(self) -> Redis:
        self.clients.append(Redis.from_url(REDIS_URL))
        return self.clients[-1]

    def breaker(self, redis: Redis | None = None, **options) -> CircuitBreaker:
        if self.local:
            return LocalBreaker(clock=self.clock, **options)
        return CircuitBreaker(redis or self.redis, prefix=self.prefix, clock=self.clock, **options)

    async def close(self) -> None:
        keys = [key async for key in self.redis.scan_iter(match=f"{self.prefix}:*")]
        if keys:
            await self.redis.delete(*keys)
        for client in self.clients:
            await client.aclose()


def run(scenario, *, local: bool = False) -> None:
    async def main() -> None:
        env = Env(local)
        try:
            await scenario(env)
        finally:
            await env.close()

    asyncio.run(main())


def run_both(scenario) -> None:
    """The scenario against the shared (Redis) state, then against the process-local fallback."""
    run(scenario)
    run(scenario, local=True)


async def fail(breaker: CircuitBreaker, times: int, key: str = MODEL) -> None:
    for _ in range(times):
        await breaker.record_failure(key)


async def open_breaker(env: Env, **options) -> CircuitBreaker:
    breaker = env.breaker(failure_threshold=3, open_seconds=15.0, **options)
    await fail(breaker, 3)
    assert await breaker.state(MODEL) == "open"
    return breaker


# --- circuit breaker ---------------------------------------------------------------------------------


def test_a_new_breaker_is_closed_and_allows_calls():
    async def scenario(env: Env) -> None:
        breaker = env.breaker()
        assert await breaker.state(MODEL) == "closed"
        assert await breaker.allow(MODEL) is True

    run_both(scenario)


def test_the_breaker_opens_after_n_consecutive_failures_and_stops_allowing():
    async def scenario(env: Env) -> None:
        breaker = env.breaker(failure_threshold=3)
        await fail(breaker, 2)
        assert await breaker.state(MODEL) == "closed"
        await breaker.record_failure(MODEL)
        assert await breaker.state(MODEL) == "open"
        assert await breaker.allow(MODEL) is False

    run_both(scenario)


def test_a_success_breaks_the_run_of_consecutive_failures():
    async def scenario(env: Env) -> None:
        breaker = env.breaker(failure_threshold=3, min_calls=100)
        await fail(breaker, 2)
        await breaker.record_success(MODEL)
        await fail(breaker, 2)
        assert await breaker.state(MODEL) == "closed"
        assert (await breaker.snapshot([MODEL]))[MODEL].consecutive_failures == 2

    run_both(scenario)


def test_the_breaker_opens_on_the_error_rate_over_the_window():
    async def scenario(env: Env) -> None:
        breaker = env.breaker(failure_threshold=100, min_calls=10, error_rate_threshold=0.5)
        for _ in range(4):
            await breaker.record_success(MODEL)
            await breaker.record_failure(MODEL)
        await breaker.record_success(MODEL)
        assert await breaker.state(MODEL) == "closed"  # 4 failures in 9 calls: under min_calls
        await breaker.record_failure(MODEL)
        assert await breaker.state(MODEL) == "open"  # 5 failures in 10 calls

    run_both(scenario)


def test_calls_older_than_the_window_do_not_count_towards_the_error_rate():
    async def scenario(env: Env) -> None:
        breaker = env.breaker(failure_threshold=100, min_calls=4, window_seconds=30.0)
        await fail(breaker, 3)
        env.clock.advance(31)
        await breaker.record_success(MODEL)
        await breaker.record_success(MODEL)
        await breaker.record_success(MODEL)
        await breaker.record_failure(MODEL)
        snapshot = (await breaker.snapshot([MODEL]))[MODEL]
        assert (snapshot.state, snapshot.window_calls, snapshot.window_failures) == ("closed", 4, 1)

    run_both(scenario)


def test_after_open_seconds_it_half_opens_and_allows_exactly_one_probe():
    async def scenario(env: Env) -> None:
        breaker = await open_breaker(env)
        env.clock.advance(14.9)
        assert await breaker.allow(MODEL) is False
        env.clock.advance(0.1)
        assert await breaker.state(MODEL) == "half_open"
        assert await breaker.allow(MODEL) is True
        assert await breaker.allow(MODEL) is False

    run_both(scenario)


def test_admission_tells_a_closed_circuit_from_a_half_open_probe_and_a_refusal():
    async def scenario(env: Env) -> None:
        breaker = env.breaker(failure_threshold=3, open_seconds=15.0)
        assert await breaker.admission(MODEL) == "closed"
        await fail(breaker, 3)
        assert await breaker.admission(MODEL) == "refused"
        env.clock.advance(15)
        assert await breaker.admission(MODEL) == "probe"
        assert await breaker.admission(MODEL) == "refused"  # the one probe is out
        await breaker.record_success(MODEL)
        assert await breaker.admission(MODEL) == "closed"

    run_both(scenario)


def test_a_closed_lease_holds_for_its_seconds_and_ends_early_when_told():
    clock = FakeClock()
    leases = ClosedLeases(0.25, clock=clock)
    assert not leases.holds(MODEL)
    leases.grant(MODEL)
    clock.advance(0.24)
    assert leases.holds(MODEL) and not leases.holds("simulator/other")
    clock.advance(0.02)
    assert not leases.holds(MODEL)
    leases.grant(MODEL)
    leases.end(MODEL)
    assert not leases.holds(MODEL)


def test_a_lease_of_zero_seconds_is_never_granted():
    leases = ClosedLeases(0.0, clock=FakeClock())
    leases.grant(MODEL)
    assert not leases.holds(MODEL)


def test_concurrent_callers_in_half_open_get_exactly_the_configured_probes():
    async def scenario(env: Env) -> None:
        breaker = await open_breaker(env, half_open_probes=2)
        env.clock.advance(15)
        granted = await asyncio.gather(*(breaker.allow(MODEL) for _ in range(30)))
        assert sum(granted) == 2

    run_both(scenario)


def test_a_probe_success_closes_the_breaker_and_resets_its_counters():
    async def scenario(env: Env) -> None:
        breaker = await open_breaker(env)
        env.clock.advance(15)
        assert await breaker.allow(MODEL) is True
        await breaker.record_success(MODEL)
        snapshot = (await breaker.snapshot([MODEL]))[MODEL]
        assert (snapshot.state, snapshot.consecutive_failures, snapshot.window_calls) == ("closed", 0, 0)
        assert await breaker.allow(MODEL) is True
        await fail(breaker, 2)
        assert await breaker.state(MODEL) == "closed"

    run_both(scenario)


def test_a_probe_failure_reopens_the_breaker_for_another_open_period():
    async def scenario(env: Env) -> None:
        breaker = await open_breaker(env)
        env.clock.advance(15)
        assert await breaker.allow(MODEL) is True
        await breaker.record_failure(MODEL)
        assert await breaker.state(MODEL) == "open"
        env.clock.advance(14)
        assert await breaker.allow(MODEL) is False
        env.clock.advance(1)
        assert await breaker.allow(MODEL) is True

    run_both(scenario)


def test_a_probe_that_never_reports_frees_its_slot_after_open_seconds():
    async def scenario(env: Env) -> None:
        breaker = await open_breaker(env)
        env.clock.advance(15)
        assert await breaker.allow(MODEL) is True
        env.clock.advance(10)
        assert await breaker.allow(MODEL) is False
        env.clock.advance(5)
        assert await breaker.allow(MODEL) is True

    run_both(scenario)


def test_outcomes_reported_while_open_leave_it_open():
    async def scenario(env: Env) -> None:
        breaker = await open_breaker(env)
        await breaker.record_success(MODEL)
        assert await breaker.state(MODEL) == "open"
        assert await breaker.allow(MODEL) is False

    run_both(scenario)


def test_two_breakers_on_two_clients_share_state_as_two_processes_would():
    async def scenario(env: Env) -> None:
        first = env.breaker(failure_threshold=4)
        second = env.breaker(env.new_client(), failure_threshold=4)
        await fail(first, 2)
        await fail(second, 2)
        assert await first.allow(MODEL) is False
        env.clock.advance(15)
        assert await second.allow(MODEL) is True
        assert await first.allow(MODEL) is False  # the only probe went to the other process
        await first.record_success(MODEL)
        assert await second.state(MODEL) == "closed"

    run(scenario)


def test_concurrent_failures_from_many_tasks_are_counted_exactly():
    async def scenario(env: Env) -> None:
        breaker = env.breaker(failure_threshold=1000, min_calls=1000)
        clients = [env.new_client() for _ in range(4)]
        breakers = [env.breaker(client, failure_threshold=1000, min_calls=1000) for client in clients]
        await asyncio.gather(*(breakers[i % 4].record_failure(MODEL) for i in range(200)))
        snapshot = (await breaker.snapshot([MODEL]))[MODEL]
        assert (snapshot.consecutive_failures, snapshot.window_calls, snapshot.window_failures) == (
            200,
            200,
            200,
        )

    run(scenario)


def test_concurrent_failures_open_the_breaker_at_the_threshold():
    async def scenario(env: Env) -> None:
        breaker = env.breaker(failure_threshold=5)
        await asyncio.gather(*(breaker.record_failure(MODEL) for _ in range(50)))
        assert await breaker.state(MODEL) == "open"

    run(scenario)


def test_breakers_are_independent_per_key_and_the_snapshot_covers_each():
    async def scenario(env: Env) -> None:
        breaker = env.breaker(failure_threshold=2)
        await fail(breaker, 2, key="simulator/bad")
        await breaker.record_success("simulator/good")
        snapshot = await breaker.snapshot(["simulator/bad", "simulator/good", "simulator/unseen"])
        assert {key: s.state for key, s in snapshot.items()} == {
            "simulator/bad": "open",
            "simulator/good": "closed",
            "simulator/unseen": "closed",
        }
        assert snapshot["simulator/bad"].opened_at == env.clock.now
        assert snapshot["simulator/good"].window_calls == 1

    run(scenario)


def test_reset_closes_an_open_breaker():
    async def scenario(env: Env) -> None:
        breaker = await open_breaker(env)
        await breaker.reset(MODEL)
        assert await breaker.state(MODEL) == "closed"
        assert await breaker.allow(MODEL) is True
        assert [key async for key in env.redis.scan_iter(match=f"{env.prefix}:*")] == []

    run_both(scenario)


def test_a_breaker_rejects_a_threshold_below_one():
    async def scenario(env: Env) -> None:
        try:
            env.breaker(failure_threshold=0)
        except ValueError as error:
            assert "failure_threshold" in str(error)
        else:
            raise AssertionError("failure_threshold=0 was accepted")

    run(scenario)


# --- token bucket ------------------------------------------------------------------------------------


def bucket(env: Env) -> TokenBucket:
    if env.local:
        return LocalTokenBucket(clock=env.clock)
    return TokenBucket(env.redis, prefix=env.prefix, clock=env.clock)


def test_the_token_bucket_grants_up_to_capacity_then_returns_the_wait():
    async def scenario(env: Env) -> None:
        limiter = bucket(env)
        grants = [await limiter.acquire("openai", rate_per_second=2.0, capacity=3) for _ in range(3)]
        assert grants == [0.0, 0.0, 0.0]
        assert await limiter.acquire("openai", rate_per_second=2.0, capacity=3) == 0.5

    run_both(scenario)


def test_the_token_bucket_refills_at_its_rate_and_never_past_capacity():
    async def scenario(env: Env) -> None:
        limiter = bucket(env)
        for _ in range(3):
            await limiter.acquire("openai", rate_per_second=2.0, capacity=3)
        env.clock.advance(0.5)
        assert await limiter.acquire("openai", rate_per_second=2.0, capacity=3) == 0.0
        assert await limiter.acquire("openai", rate_per_second=2.0, capacity=3) == 0.5
        env.clock.advance(3600)
        grants = [await limiter.acquire("openai", rate_per_second=2.0, capacity=3) for _ in range(4)]
        assert grants == [0.0, 0.0, 0.0, 0.5]

    run_both(scenario)


def test_a_refused_request_takes_no_tokens():
    async def scenario(env: Env) -> None:
        limiter = bucket(env)
        await limiter.acquire("openai", rate_per_second=1.0, capacity=10, cost=8)
        assert await limiter.acquire("openai", rate_per_second=1.0, capacity=10, cost=5) == 3.0
        assert await limiter.acquire("openai", rate_per_second=1.0, capacity=10, cost=2) == 0.0

    run_both(scenario)


def test_a_token_cost_above_one_waits_for_all_its_tokens():
    async def scenario(env: Env) -> None:
        limiter = bucket(env)
        tpm = {"rate_per_second": 1000 / 60, "capacity": 1000}
        assert await limiter.acquire("openai:tokens", cost=700, **tpm) == 0.0
        assert math.isclose(await limiter.acquire("openai:tokens", cost=500, **tpm), 200 / (1000 / 60))
        env.clock.advance(12)
        assert await limiter.acquire("openai:tokens", cost=500, **tpm) == 0.0

    run_both(scenario)


def test_a_cost_above_capacity_can_never_be_granted():
    async def scenario(env: Env) -> None:
        assert await bucket(env).acquire("openai", rate_per_second=1.0, capacity=5, cost=6) == math.inf

    run_both(scenario)


def test_concurrent_acquires_grant_exactly_the_capacity():
    async def scenario(env: Env) -> None:
        limiters = [TokenBucket(env.new_client(), prefix=env.prefix, clock=env.clock) for _ in range(4)]
        waits = await asyncio.gather(
            *(limiters[i % 4].acquire("openai", rate_per_second=1.0, capacity=25) for i in range(100))
        )
        assert waits.count(0.0) == 25

    run(scenario)


def test_wait_and_acquire_sleeps_until_granted_within_max_wait():
    async def scenario(env: Env) -> None:
        limiter = TokenBucket(env.redis, prefix=env.prefix)  # the real clock: it sleeps for real
        await limiter.acquire("openai", rate_per_second=20.0, capacity=1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await limiter.wait_and_acquire("openai", rate_per_second=20.0, capacity=1, max_wait=1.0)
        assert 0.03 <= loop.time() - started < 0.5

    run(scenario)


def test_wait_and_acquire_gives_up_at_once_when_the_wait_exceeds_max_wait():
    async def scenario(env: Env) -> None:
        limiter = bucket(env)
        await limiter.acquire("openai", rate_per_second=0.1, capacity=1)
        granted = await limiter.wait_and_acquire("openai", rate_per_second=0.1, capacity=1, max_wait=1.0)
        assert granted is False
        env.clock.advance(10)
        assert await limiter.acquire("openai", rate_per_second=0.1, capacity=1) == 0.0

    run_both(scenario)


# --- latency window ----------------------------------------------------------------------------------


def latency_window(env: Env, **options) -> LatencyWindow:
    return LatencyWindow(env.redis, prefix=env.prefix, clock=env.clock, **options)


def test_nearest_rank_percentiles_match_the_textbook_values():
    values = [15.0, 20.0, 35.0, 40.0, 50.0]  # the worked example of the nearest-rank method
    assert [nearest_rank(values, p) for p in (5, 30, 40, 50, 100)] == [15.0, 20.0, 20.0, 35.0, 50.0]
    assert nearest_rank([], 50) is None


def test_the_latency_window_reports_percentiles_and_success_rate_on_known_values():
    async def scenario(env: Env) -> None:
        window = latency_window(env)
        for latency in range(1, 101):
            await window.record(MODEL, float(latency), ok=True)
        for _ in range(25):
            await window.record(MODEL, 5000.0, ok=False)
        stats = (await window.stats([MODEL]))[MODEL]
        assert stats == WindowStats(p50_ms=50.0, p95_ms=95.0, success_rate=0.8, samples=125)

    run(scenario)


def test_entries_older_than_the_window_are_ignored():
    async def scenario(env: Env) -> None:
        window = latency_window(env, window_seconds=300)
        await window.record(MODEL, 9000.0, ok=False)
        env.clock.advance(301)
        await window.record(MODEL, 120.0, ok=True)
        assert (await window.stats([MODEL]))[MODEL] == WindowStats(120.0, 120.0, 1.0, 1)

    run(scenario)


def test_the_latency_window_keeps_only_the_last_size_outcomes():
    async def scenario(env: Env) -> None:
        window = latency_window(env, size=10)
        for latency in range(1, 31):
            await window.record(MODEL, float(latency), ok=True)
        stats = (await window.stats([MODEL]))[MODEL]
        assert (stats.samples, stats.p50_ms) == (10, 25.0)
        assert await env.redis.llen(window.key_for(MODEL)) == 10

    run(scenario)


def test_latency_stats_cover_many_keys_and_say_none_for_an_unseen_one():
    async def scenario(env: Env) -> None:
        window = latency_window(env)
        await window.record("simulator/fast", 40.0, ok=True)
        await window.record("simulator/down", 30000.0, ok=False)
        stats = await window.stats(["simulator/fast", "simulator/down", "simulator/unseen"])
        assert stats["simulator/fast"] == WindowStats(40.0, 40.0, 1.0, 1)
        assert stats["simulator/down"] == WindowStats(None, None, 0.0, 1)
        assert stats["simulator/unseen"] == WindowStats(None, None, None, 0)

    run(scenario)
