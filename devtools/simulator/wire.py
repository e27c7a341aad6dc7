"""Minimal ASGI plumbing: reading requests, sending JSON and server-sent events, and request errors."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = Iterable[tuple[str, str]]

MAX_BODY_BYTES = 8 * 1024 * 1024


class RequestError(Exception):
    """Something the client got wrong (or an injected fault); each dialect renders it in its own format."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        status: int = 400,
        code: str | None = None,
        headers: Headers = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status
        self.code = code
        self.headers = tuple(headers)


@dataclass(frozen=True)
class StreamPart:
    """One server-sent event; `tokens` > 0 marks a content delta, paced at the model's token rate."""

    data: bytes
    tokens: int = 0


def sse(payload: Any, event: str | None = None) -> StreamPart:
    prefix = f"event: {event}\n".encode() if event else b""
    return StreamPart(prefix + b"data: " + dump(payload) + b"\n\n")


class DroppedConnection(Exception):
    """Raised mid-response on purpose, so uvicorn aborts the connection (the cut_stream fault)."""


class _QuietDroppedConnections(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def quiet_dropped_connections() -> None:
    """Keep uvicorn from logging a traceback for every deliberately dropped connection."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, _QuietDroppedConnections) for existing in logger.filters):
        logger.addFilter(_QuietDroppedConnections())


def header(scope: Scope, name: str) -> str | None:
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise DroppedConnection("client disconnected while sending the body")
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_BODY_BYTES:
            raise RequestError(f"Request body is larger than {MAX_BODY_BYTES} bytes.", status=413)
        if not message.get("more_body", False):
            return b"".join(chunks)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RequestError(f"We could not parse the JSON body of your request: {error}.") from None
    if not isinstance(body, dict):
        raise RequestError("The request body must be a JSON object.")
    return body


def dump(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _encode_headers(headers: Headers) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def send_start(send: Send, status: int, content_type: str, headers: Headers = ()) -> None:
    all_headers = [("content-type", content_type), *headers]
    await send({"type": "http.response.start", "status": status, "headers": _encode_headers(all_headers)})


async def send_json(send: Send, status: int, payload: Any, headers: Headers = ()) -> None:
    body = dump(payload)
    length = [("content-length", str(len(body)))]
    await send_start(send, status, "application/json", [*length, *headers])
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_json_then_drop(send: Send, payload: Any) -> None:
    """Announce a complete JSON body, send half of it, then abort the connection."""
    body = dump(payload)
    await send_start(send, 200, "application/json", [("content-length", str(len(body)))])
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    raise DroppedConnection("cut_stream fault injected")


async def send_body_part(send: Send, data: bytes, *, last: bool = False) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": not last})


async def sleep_unless_disconnected(receive: Receive, seconds: float) -> bool:
    """Sleep, but wake early when the client goes away; True when the client is still there."""
    waiter = asyncio.ensure_future(_wait_for_disconnect(receive))
    try:
        done, _ = await asyncio.wait({waiter}, timeout=seconds)
    finally:
        waiter.cancel()
    return not done


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
