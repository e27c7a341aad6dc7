"""A provider stream read to its end from a sync test, the way a sync caller would drive `astream`."""

from __future__ import annotations

import json
import time

from asgiref.sync import async_to_sync
from django.test import AsyncClient


def stream_events(adapter, target, request, received: list | None = None) -> list:
    """Every delta and the final result of `adapter.astream`, in order. Under async_to_sync a thread-sensitive
    lookup (the replay adapter's) runs in the test's thread and sees its transaction. When the stream fails,
    the error goes up and `received`, if given, holds what arrived before it."""
    events = [] if received is None else received

    async def read() -> list:
        async for event in adapter.astream(target, request):
            events.append(event)
        return events

    return async_to_sync(read)()


def chat_stream(
    body: dict, auth: dict, path: str = "/v1/chat/completions", arrivals: list | None = None
) -> tuple:
    """POST `body` to `path` with Django's ASGI test client and read the answer to its end in the same
    event loop, as a server does: the gateway starts a stream before it answers (a stream that fails
    before its first byte gets a real status), so the stream's upstream connection belongs to the loop
    that served the request. `auth` is the test client's HTTP_AUTHORIZATION entry; `arrivals`, if given,
    gets each chunk with the time it arrived (`time.perf_counter()`)."""

    async def post():
        response = await AsyncClient().post(
            path,
            data=json.dumps(body),
            content_type="application/json",
            headers={"Authorization": auth["HTTP_AUTHORIZATION"]},
        )
        if not response.streaming:
            return response, response.content
        chunks = [] if arrivals is None else arrivals
        async for chunk in response.streaming_content:
            chunks.append((time.perf_counter(), chunk))
        return response, b"".join(chunk for _, chunk in chunks)

    return async_to_sync(post)()


def named_events(chunks: list[bytes]) -> list[tuple[str, dict]]:
    """Server-sent events written as `event: <name>` and `data: <json>` lines (Anthropic's and the
    Responses API's streams), each chunk one event, as (name, data) pairs."""
    out = []
    for chunk in chunks:
        name, data = chunk.decode().strip().split("\n")
        out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out
