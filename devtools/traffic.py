"""Simulated users sending chat requests through routelab's OpenAI-compatible endpoint (demo, load)."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

PROMPTS = {
    "simple": (
        "What is the capital of France?",
        "How many days are in a leap year?",
        "Translate 'good morning' into Spanish.",
        "What is 17 times 23?",
        "Who wrote Pride and Prejudice?",
        "What colour do you get by mixing blue and yellow?",
    ),
    "moderate": (
        "Summarise the plot of Romeo and Juliet in a short paragraph for a student.",
        "Explain the difference between a process and a thread, with an example of when to prefer each.",
        "Write a polite email declining a meeting invitation and proposing two other times next week.",
        "What are the main causes of inflation, and how do central banks respond to it?",
    ),
    "complex": (
        "Compare and contrast optimistic and pessimistic locking in depth, with the trade-offs of each.",
        "Why does this raise?\n```python\nitems = [1, 2, 3]\nprint(items[3])\n```\nFix it and explain.",
        "Prove that there are infinitely many primes, step by step.",
        "Design a rate limiter for a distributed API gateway and analyze its failure modes.",
    ),
}
MIX = {"simple": 0.6, "moderate": 0.25, "complex": 0.15}


@dataclass
class TrafficSummary:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    models: Counter = field(default_factory=Counter)
    variants: Counter = field(default_factory=Counter)
    seconds: float = 0.0


def _prompt(rng: random.Random) -> str:
    level = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    return rng.choice(PROMPTS[level])


async def _user(client: httpx.AsyncClient, route: str, user: str, count: int, rng, summary, gate) -> None:
    for _ in range(count):
        body = {
            "model": f"route:{route}",
            "user": user,
            "messages": [{"role": "user", "content": _prompt(rng)}],
        }
        async with gate:
            try:
                response = await client.post("/v1/chat/completions", json=body)
            except httpx.HTTPError as exc:
                summary.statuses[type(exc).__name__] += 1
                continue
        summary.requests += 1
        summary.statuses[response.status_code] += 1
        summary.models[response.headers.get("x-routelab-model", "-")] += 1
        summary.variants[response.headers.get("x-routelab-variant", "outside")] += 1


async def send_traffic(
    *,
    base_url: str,
    key: str,
    route: str,
    users: int,
    requests_per_user: int = 1,
    concurrency: int = 32,
    seed: int = 0,
    user_prefix: str = "user",
) -> TrafficSummary:
    """`users` simulated users, each sending `requests_per_user` requests, `concurrency` at a time."""
    rng = random.Random(seed)
    summary = TrafficSummary()
    gate = asyncio.Semaphore(concurrency)
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120, limits=limits) as client:
        await asyncio.gather(
            *(
                _user(
                    client,
                    route,
                    f"{user_prefix}-{i}",
                    requests_per_user,
                    random.Random(rng.random()),
                    summary,
                    gate,
                )
                for i in range(users)
            )
        )
    summary.seconds = time.perf_counter() - started
    return summary
