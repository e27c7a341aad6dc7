"""The non-streamed provider call's wire (`routing.providers.http1`, under `PooledClient.post_json`),
against real sockets: what it sends, what it reads, how it fails, TLS, and its pool."""

import asyncio
import contextlib
import gzip
import socket
import ssl
import time

import httpx
import pytest
import trustme

from routing.providers.base import error_from_exception
from routing.providers.http1 import Http1Pool, target_of
from routing.providers.transport import AiohttpTransport, JsonAnswer, PooledClient

LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=5, keepalive_expiry=5)
OK = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok": 1.5}'


@contextlib.asynccontextmanager
async def raw_server(handle, tls: ssl.SSLContext | None = None):
    """A TCP server on a free port whose connections `handle(reader, writer)` serves."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    async with server:
        scheme = "https" if tls else "http"
        yield f"{scheme}://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def read_request(reader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    lengths = [
        int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")
    ]
    return head + await reader.readexactly(lengths[0] if lengths else 0)


def answering(answer: bytes, requests: list, connections: list | None = None):
    """A handler that answers every request on a connection with `answer`, keeping what it read."""

    async def handle(reader, writer):
        if connections is not None:
            connections.append(writer)
        while True:
            try:
                requests.append(await read_request(reader))
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            writer.write(answer)

    return handle


def client(**timeouts) -> PooledClient:
    return PooledClient(
        transport=AiohttpTransport(LIMITS), timeout=httpx.Timeout(5, **timeouts), limits=LIMITS
    )


def test_post_json_sends_what_httpx_sends_and_reads_the_answer_as_json():
    requests = []

    async def scenario():
        async with raw_server(answering(OK, requests)) as url:
            headers = {"Authorization": "Bearer k", "x-extra": "1"}
            async with client() as pooled:
                answer = await pooled.post_json(f"{url}/v1/x?a=1", headers=headers, json={"a": "é", "b": [1]})
            async with httpx.AsyncClient() as plain:
                await plain.post(f"{url}/v1/x?a=1", headers=headers, json={"a": "é", "b": [1]})
            return answer

    answer = asyncio.run(scenario())
    assert isinstance(answer, JsonAnswer) and answer.status_code == 200 and answer.json() == {"ok": 1.5}
    assert answer.headers["content-type"] == "application/json"
    ours, httpx_own = (_parsed(request) for request in requests)
    assert ours == httpx_own  # the request line, every header (names case-blind) and the body
    assert ours[0] == b"POST /v1/x?a=1 HTTP/1.1" and ours[2] == '{"a":"é","b":[1]}'.encode()


def _parsed(request: bytes):
    head, body = request.split(b"\r\n\r\n", 1)
    line, *headers = head.split(b"\r\n")
    return line, sorted(tuple(h.lower().split(b": ", 1)) for h in headers), body


def test_a_connection_is_reused_and_one_the_server_closed_while_idle_is_replaced():
    requests, connections = [], []

    async def scenario():
        async with raw_server(answering(OK, requests, connections)) as url, client() as pooled:
            await pooled.post_json(f"{url}/a", headers={}, json={})
            await pooled.post_json(f"{url}/b", headers={}, json={})
            connections[0].close()  # the server ends the kept-alive connection between calls
            await asyncio.sleep(0.1)
            answer = await pooled.post_json(f"{url}/c", headers={}, json={})
            return answer

    answer = asyncio.run(scenario())
    assert answer.status_code == 200 and len(requests) == 3
    assert len(connections) == 2  # the first two calls shared one; the third needed a new one


def test_bytes_past_an_answer_leave_it_whole_and_the_connection_unused_again():
    stray = OK + b"HTTP/1.1 200 OK\r\nx-stray: 1\r\ncontent-length: 2\r\n\r\n{}"
    requests, connections = [], []

    async def scenario():
        async with raw_server(answering(stray, requests, connections)) as url, client() as pooled:
            first = await pooled.post_json(f"{url}/a", headers={}, json={})
            second = await pooled.post_json(f"{url}/b", headers={}, json={})
            return first, second

    first, second = asyncio.run(scenario())
    assert first.json() == {"ok": 1.5} and "x-stray" not in first.headers
    assert second.json() == {"ok": 1.5} and len(connections) == 2  # the out-of-step connection was closed


def test_a_chunked_answer_and_one_delimited_by_the_connections_end_are_read_whole():
    chunked = (
        b'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n'
    )
    until_close = b'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"b": 2}'

    async def close_after(reader, writer):
        await read_request(reader)
        writer.write(until_close)
        await writer.drain()
        writer.close()

    async def scenario():
        async with (
            raw_server(answering(chunked, [])) as first,
            raw_server(close_after) as second,
            client() as c,
        ):
            return (
                await c.post_json(f"{first}/x", headers={}, json={}),
                await c.post_json(f"{second}/x", headers={}, json={}),
            )

    chunked_answer, closed_answer = asyncio.run(scenario())
    assert chunked_answer.json() == {"a": 1} and closed_answer.json() == {"b": 2}


def test_an_error_status_and_a_compressed_body_come_back_as_httpx_responses():
    body = b'{"error": {"message": "bad model"}}'
    refused = b"HTTP/1.1 400 Bad Request\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    packed = gzip.compress(b'{"z": 1}')
    compressed = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s" % (
        len(packed),
        packed,
    )

    async def scenario():
        async with (
            raw_server(answering(refused, [])) as first,
            raw_server(answering(compressed, [])) as second,
            client() as pooled,
        ):
            return (
                await pooled.post_json(f"{first}/x", headers={}, json={}),
                await pooled.post_json(f"{second}/x", headers={}, json={}),
            )

    error, decoded = asyncio.run(scenario())
    assert isinstance(error, httpx.Response) and error.status_code == 400
    assert error.json()["error"]["message"] == "bad model" and error.request.method == "POST"
    assert isinstance(decoded, httpx.Response) and decoded.json() == {"z": 1}


def test_a_dropped_connection_a_silent_server_and_a_refused_port_fail_as_httpx_does():
    async def drop(reader, writer):
        await read_request(reader)
        writer.close()

    async def trickle(reader, writer):  # a byte every 0.2 s: slow, never silent for the 0.3 s timeout
        await read_request(reader)
        for byte in OK:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2 if byte == ord("{") else 0)

    async def silent(reader, writer):
        await read_request(reader)
        await asyncio.sleep(5)

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        refused_url = f"http://127.0.0.1:{probe.getsockname()[1]}/x"

    async def outcome(url):
        async with client(read=0.3) as pooled:
            try:
                return await pooled.post_json(url, headers={}, json={})
            except httpx.TransportError as exc:
                return exc

    async def scenario():
        async with raw_server(drop) as a, raw_server(trickle) as b, raw_server(silent) as c:
            started = time.monotonic()
            results = [await outcome(f"{a}/x"), await outcome(f"{b}/x"), await outcome(f"{c}/x")]
            return [*results, await outcome(refused_url)], time.monotonic() - started

    (dropped, slow, silent_one, refused), seconds = asyncio.run(scenario())
    assert isinstance(dropped, httpx.RemoteProtocolError)
    assert error_from_exception(dropped).kind == "connection"
    assert isinstance(slow, JsonAnswer) and slow.json() == {"ok": 1.5}
    assert isinstance(silent_one, httpx.ReadTimeout) and error_from_exception(silent_one).kind == "timeout"
    assert isinstance(refused, httpx.ConnectError) and error_from_exception(refused).kind == "connection"
    assert seconds < 4


def test_a_header_that_could_split_the_request_is_refused_and_nothing_is_sent():
    requests = []

    async def scenario():
        async with raw_server(answering(OK, requests)) as url, client() as pooled:
            for headers in ({"x-a": "1\r\nx-injected: 1"}, {"x y": "1"}, {"x-a": "\u2603"}):
                with pytest.raises(httpx.LocalProtocolError):
                    await pooled.post_json(f"{url}/x", headers=headers, json={})
            await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert requests == []


def test_an_https_provider_is_reached_with_its_certificate_checked():
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_tls)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)

    async def scenario(client_tls):
        async with raw_server(answering(OK, []), tls=server_tls) as url:
            pool = Http1Pool(max_connections=2, max_idle=2, keepalive_seconds=5, ssl_context=client_tls)
            try:
                return await pool.post(
                    f"{url}/x", {"content-type": "application/json"}, b"{}", httpx.Timeout(5)
                )
            except httpx.TransportError as exc:
                return exc
            finally:
                pool.close()

    answer = asyncio.run(scenario(trusting))
    assert answer.status == 200 and answer.content == b'{"ok": 1.5}'
    untrusted = asyncio.run(scenario(ssl.create_default_context()))
    assert isinstance(untrusted, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(untrusted)


def test_the_pool_bounds_open_connections_and_times_out_waiting_for_one():
    connections = []

    async def slow(reader, writer):
        connections.append(writer)
        while True:
            try:
                await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            await asyncio.sleep(0.3)
            writer.write(OK)

    async def scenario():
        pool = Http1Pool(
            max_connections=1, max_idle=1, keepalive_seconds=5, ssl_context=ssl.create_default_context()
        )
        async with raw_server(slow) as url:
            calls = [pool.post(f"{url}/x", {}, b"{}", httpx.Timeout(5)) for _ in range(2)]
            both = await asyncio.gather(*calls)
            holder = asyncio.create_task(pool.post(f"{url}/x", {}, b"{}", httpx.Timeout(5)))
            await asyncio.sleep(0.05)
            with pytest.raises(httpx.PoolTimeout):
                await pool.post(f"{url}/x", {}, b"{}", httpx.Timeout(5, pool=0.1))
            await holder
            pool.close()
            return both

    both = asyncio.run(scenario())
    assert [answer.status for answer in both] == [200, 200]
    assert len(connections) == 1  # the second call waited for the first's connection


def test_a_call_cancelled_mid_answer_closes_its_connection_instead_of_reusing_it():
    connections = []

    async def half(reader, writer):
        connections.append(writer)
        await read_request(reader)
        writer.write(OK[:20])
        await asyncio.sleep(5)

    async def scenario():
        async with raw_server(half) as url, client() as pooled:
            call = asyncio.create_task(pooled.post_json(f"{url}/x", headers={}, json={}))
            await asyncio.sleep(0.2)
            call.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await call
            return pooled._wire.http1()._idle

    idle = asyncio.run(scenario())
    assert len(connections) == 1 and not any(idle.values())


@pytest.mark.parametrize(
    ("url", "origin", "host", "path"),
    [
        (
            "https://api.openai.com/v1/chat/completions",
            ("https", "api.openai.com", 443),
            "api.openai.com",
            b"/v1/chat/completions",
        ),
        ("http://127.0.0.1:8911/v1/x?q=1", ("http", "127.0.0.1", 8911), "127.0.0.1:8911", b"/v1/x?q=1"),
        ("https://example.com:443", ("https", "example.com", 443), "example.com", b"/"),
        ("http://[::1]:8080/a", ("http", "::1", 8080), "[::1]:8080", b"/a"),
    ],
)
def test_a_urls_origin_host_header_and_target(url, origin, host, path):
    target = target_of(url)
    assert tuple(target.origin) == origin and target.host_header == host and target.path == path


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "https://user:pw@example.com/x", "http:///x", "http://h:99999/"]
)
def test_a_url_this_client_does_not_send_is_unsupported(url):
    with pytest.raises(httpx.UnsupportedProtocol):
        target_of(url)
