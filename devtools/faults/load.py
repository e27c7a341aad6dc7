"""Open-loop traffic to /v1/chat/completions: each request starts on its schedule whatever the earlier
ones do, alternately plain and streamed, and its latency counts from the scheduled time, so queueing
behind a slow or failing server is measured, not hidden."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

QUESTION = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 30}
TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Outcome:
    stream: bool
    ok: bool
    status: int | None  # None: no HTTP response at all
    decision_id: str | None
    latency_ms: float
    error: str = ""  # why it failed: the body's start, a stream's error event, or the transport error


async def _plain(client: httpx.AsyncClient, scheduled: float) -> Outcome:
    response = await client.post("/v1/chat/completions", json=QUESTION)
    ok = response.status_code == 200 and bool(response.json().get("choices"))
    return Outcome(
        stream=False,
        ok=ok,
        status=response.status_code,
        decision_id=response.headers.get("x-routelab-decision-id"),
        latency_ms=(time.perf_counter() - scheduled) * 1000,
        error="" if ok else _brief(response.text),
    )


async def _streamed(client: httpx.AsyncClient, scheduled: float) -> Outcome:
    """A stream succeeds only when it ends with `data: [DONE]` and carried no error event."""
    async with client.stream("POST", "/v1/chat/completions", json={**QUESTION, "stream": True}) as response:
        if response.status_code != 200:
            error = _brief((await response.aread()).decode(errors="replace"))
        else:
            error = await _stream_error(response)
    return Outcome(
        stream=True,
        ok=not error,
        status=response.status_code,
        decision_id=response.headers.get("x-routelab-decision-id"),
        latency_ms=(time.perf_counter() - scheduled) * 1000,
        error=error,
    )


async def _stream_error(response: httpx.Response) -> str:
    """What went wrong in a 200 stream: an error event, a cut, or no [DONE]; empty when nothing did."""
    done, error = False, ""
    try:
        async for line in response.aiter_lines():
            data = line.removeprefix("data: ").strip() if line.startswith("data: ") else ""
            if data == "[DONE]":
                done = True
            elif data and "error" in json.loads(data):
                error = error or data[:300]
    except httpx.HTTPError as exc:
        return f"cut after 200 OK: {type(exc).__name__}: {exc}"[:300]
    return error or ("" if done else "the stream ended without [DONE]")


async def _one(client: httpx.AsyncClient, stream: bool, scheduled: float) -> Outcome:
    try:
        return await (_streamed if stream else _plain)(client, scheduled)
    except (httpx.HTTPError, ValueError) as exc:  # no answer, a cut stream, or a body that is not JSON
        latency = (time.perf_counter() - scheduled) * 1000
        return Outcome(stream, False, None, None, latency, f"{type(exc).__name__}: {exc}"[:300])


def _brief(text: str) -> str:
    return " ".join(text.split())[:300]


async def _timeline(start: float, steps: Sequence[tuple[float, Callable[[], None]]]) -> None:
    """Each blocking step (stop a server, start it again) at its offset, in a thread, one after another."""
    for offset, step in steps:
        await asyncio.sleep(max(0.0, start + offset - time.perf_counter()))
        await asyncio.to_thread(step)


async def open_loop(
    url: str, key: str, *, rate: float, seconds: float, steps: Sequence[tuple[float, Callable[[], None]]] = ()
) -> list[Outcome]:
    """`rate` requests a second for `seconds`, every other one streamed, with `steps` run on the way."""
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=200)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=TIMEOUT_SECONDS, limits=limits
    ) as client:
        start = time.perf_counter() + 0.1
        timeline = asyncio.create_task(_timeline(start, steps))
        requests = []
        for i in range(int(rate * seconds)):
            scheduled = start + i / rate
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            requests.append(asyncio.create_task(_one(client, i % 2 == 1, scheduled)))
        outcomes = await asyncio.gather(*requests)
        await timeline
    return list(outcomes)
