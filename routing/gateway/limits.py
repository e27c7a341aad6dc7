"""Step 2 of a live request, after the key: its limits and its route's daily budget, or a 429.

A key may have a requests-per-minute limit (a token bucket in Redis, shared by every process) and
tokens and spend per UTC day (counters in Redis that every call adds to, read through the live cache,
so a key or route may overshoot by what it spends in about a second). A route's daily budget is
enforced here for every policy kind; cost-aware policies also steer by what is left of it. While Redis
is unreachable each process counts on its own (see `routing.gateway.resilience.Degrading`).
"""

from __future__ import annotations

import math

from routing.gateway.errors import GatewayError
from routing.gateway.execute import bucket
from routing.gateway.live import key_usage_today, live_state, seconds_to_midnight
from routing.gateway.snapshot import KeyEntry, RouteEntry, RoutingSnapshot


def _limited(message: str, retry_after: float) -> GatewayError:
    return GatewayError(429, message, type="rate_limit_error", retry_after=max(1, math.ceil(retry_after)))


async def limits_check(snapshot: RoutingSnapshot, key: KeyEntry, route: RouteEntry) -> None:
    """Raise a 429 with Retry-After when the key or the route is over a limit; else count the request."""
    await _daily_check(snapshot, key, route)
    rpm = key.limits.requests_per_minute
    if rpm is not None:
        wait = await bucket().acquire(f"key:{key.id}:requests", rate_per_second=rpm / 60, capacity=rpm)
        if wait > 0:
            raise _limited(f"The API key '{key.name}' is over its limit of {rpm} requests per minute.", wait)


async def _daily_check(snapshot: RoutingSnapshot, key: KeyEntry, route: RouteEntry) -> None:
    state = await live_state(snapshot, route)
    if state.budget_remaining is not None and state.budget_remaining <= 0:
        budget = route.daily_budget_usd
        raise _limited(
            f"Route '{route.name}' has spent its daily budget of ${budget:g}.", seconds_to_midnight()
        )
    limits = key.limits
    if not limits.daily:
        return
    tokens, spend = await key_usage_today(snapshot, key.id)
    if limits.tokens_per_day is not None and tokens >= limits.tokens_per_day:
        raise _limited(
            f"The API key '{key.name}' has used its {limits.tokens_per_day:,} tokens for today (UTC).",
            seconds_to_midnight(),
        )
    if limits.spend_per_day_usd is not None and spend >= limits.spend_per_day_usd:
        raise _limited(
            f"The API key '{key.name}' has spent its ${limits.spend_per_day_usd:g} for today (UTC).",
            seconds_to_midnight(),
        )
