"""The provider calls' transport: httpx's API and exceptions over aiohttp, against real sockets."""

import asyncio
import contextlib
import socket
import time

import httpx
import pytest

from routing.providers.base import error_from_exception
from routing.providers.transport import AiohttpTransport

CREATED = b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n"
LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=5)


@contextlib.asynccontextmanager
async def raw_server(handle):
    """A TCP server on a free port whose connections `handle(reader, writer)` serves."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def _read_request(reader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    return head + await reader.readexactly(length)


def _client(**timeouts) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=AiohttpTransport(LIMITS), timeout=httpx.Timeout(5, **timeouts))


def test_a_request_and_its_answer_cross_the_wire_whole_and_the_connection_is_reused():
    requests, connections = [], []

    async def handle(reader, writer):
        connections.append(writer)
        while True:
            try:
                requests.append(await _read_request(reader))
            except asyncio.IncompleteReadError:
                return
            writer.write(CREATED + b'{"ok": 1.5}')

    async def scenario():
        async with raw_server(handle) as url, _client() as client:
            first = await client.post(f"{url}/v1/x", json={"a": "é"}, headers={"authorization": "Bearer k"})
            second = await client.post(f"{url}/v1/x", json={"b": 2})
            return first, second

    first, second = asyncio.run(scenario())
    assert first.status_code == 201 and first.json() == {"ok": 1.5}
    assert first.headers["content-type"] == "application/json" and second.status_code == 201
    assert b"POST /v1/x HTTP/1.1" in requests[0] and b"authorization: Bearer k" in requests[0]
    assert requests[0].endswith('{"a":"é"}'.encode())
    assert len(connections) == 1  # kept alive between the two calls


def test_a_streamed_body_arrives_chunk_by_chunk_as_the_server_sends_it():
    async def handle(reader, writer):
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        for data in (b"data: one\n\n", b"data: two\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(data), data))
            await writer.drain()
            await asyncio.sleep(0.5)
        writer.write(b"0\r\n\r\n")

    async def scenario():
        async with raw_server(handle) as url, _client() as client:
            started, seen = time.monotonic(), []
            async with client.stream("POST", f"{url}/s", json={}) as response:
                async for line in response.aiter_lines():
                    if line:
                        seen.append((line, time.monotonic() - started))
            return seen

    seen = asyncio.run(scenario())
    assert [line for line, _ in seen] == ["data: one", "data: two"]
    assert seen[0][1] < 0.4 <= seen[1][1]  # the first event before the server sent the second


def test_a_connection_the_server_drops_is_a_connection_error_not_a_timeout():
    async def handle(reader, writer):
        await _read_request(reader)
        writer.close()

    async def scenario():
        async with raw_server(handle) as url, _client() as client:
            await client.post(f"{url}/x", json={})

    with pytest.raises(httpx.RemoteProtocolError) as caught:
        asyncio.run(scenario())
    error = error_from_exception(caught.value)
    assert error.kind == "connection" and error.retryable


def test_a_server_that_never_answers_is_a_read_timeout():
    async def handle(reader, writer):
        await _read_request(reader)
        await asyncio.sleep(5)

    async def scenario():
        async with raw_server(handle) as url, _client(read=0.3) as client:
            await client.post(f"{url}/x", json={})

    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout) as caught:
        asyncio.run(scenario())
    assert time.monotonic() - started < 3
    assert error_from_exception(caught.value).kind == "timeout"


def test_a_refused_connection_is_a_connect_error():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario():
        async with _client() as client:
            await client.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ConnectError) as caught:
        asyncio.run(scenario())
    assert error_from_exception(caught.value).kind == "connection"
