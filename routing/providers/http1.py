"""The non-streamed provider call's wire: one-shot HTTP/1.1 POSTs over kept-alive connections.

A proxied request spends more of its time in the HTTP client than in any other one step of routelab's own
(README, "Benchmarks"). Measured in one process against the fixed-answer upstream, sequential calls with
a pause between them: aiohttp's `ClientSession.post` takes 0.53 to 0.64 ms a call at the median, an
asyncio protocol feeding httptools' C parser (which uvicorn already uses to read requests) 0.19 ms. This
module is that protocol with what a provider call needs around it: a pool of kept-alive connections per
origin, a bound on open connections, TLS, connect, pool and read timeouts (the read timeout is the time
without a byte, as aiohttp's `sock_read` and httpx's `read` are), and httpx's exception types, so
`providers.base` classifies its failures as it classifies httpx's. Streams still go through httpx over
aiohttp (`providers.transport`).

A POST is never sent twice: a connection the server closed while idle is seen closed (its end of file
arrived meanwhile) and not reused; one that breaks in flight is a `RemoteProtocolError`, which the
adapter's retry policy handles as any dropped connection.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

import httptools
import httpx

DEFAULT_PORTS = {"http": 80, "https": 443}
# A header name is a token; a value holds no control character but tab (no CR or LF to split a header)
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
HEADER_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int


class Target(NamedTuple):
    origin: Origin
    host_header: str
    path: bytes


class Answer(NamedTuple):
    status: int
    raw_headers: list[tuple[bytes, bytes]]
    content: bytes


@lru_cache(maxsize=256)
def target_of(url: str) -> Target:
    """Where `url` is sent: its origin, its `Host` header and its request target; a URL this client does
    not send (another scheme, credentials in it, no host) is an `httpx.UnsupportedProtocol`."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as exc:
        raise httpx.UnsupportedProtocol(f"Invalid port in {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        raise httpx.UnsupportedProtocol(f"Cannot send {url!r}: only http(s)://host[:port]/path URLs")
    host_header = parts.netloc.rsplit(":", 1)[0] if port == DEFAULT_PORTS[scheme] else parts.netloc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(Origin(scheme, parts.hostname, port or DEFAULT_PORTS[scheme]), host_header, path.encode())


def request_head(target: Target, headers: dict[str, str], length: int) -> bytes:
    """The request line and headers: `Host` first, then `headers` as given, then `content-length`. A name
    or value that could split the header block is an `httpx.LocalProtocolError`, never sent."""
    lines = [b"POST ", target.path, b" HTTP/1.1\r\nhost: ", target.host_header.encode("idna"), b"\r\n"]
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name) or not HEADER_VALUE.fullmatch(value):
            raise httpx.LocalProtocolError(f"Illegal header {name!r}: a control character or a bad name")
        try:
            lines += [name.encode("ascii"), b": ", value.encode("latin-1"), b"\r\n"]
        except UnicodeEncodeError:
            raise httpx.LocalProtocolError(f"Header {name!r} holds a character outside Latin-1") from None
    lines += [b"content-length: ", str(length).encode(), b"\r\n\r\n"]
    return b"".join(lines)


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one exchange at a time, its answer read by httptools."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.reusable = False
        self.closed = False
        self.last_read = 0.0
        self.idle_since = 0.0
        self.timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.answer is None or self.answer.done():  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"Malformed HTTP response: {exc}"))

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.answer is None or self.answer.done():
            return
        if self.headers_done and not self._framed():  # a body delimited by the connection's end
            self._finish(reusable=False)
        else:
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a whole response"))

    # -- httptools callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.answer is not None and self.answer.done():  # bytes past the answer: a server out of step
            self.reusable = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:  # an interim answer: the real one follows
            self.headers, self.body, self.headers_done = [], [], False
            return
        self._finish(reusable=self.parser.should_keep_alive())

    # -- the exchange ------------------------------------------------------------------------------

    async def exchange(self, data: bytes, read_timeout: float | None) -> Answer:
        """Send one request and read its whole answer; the connection is reusable after it when
        `self.reusable`. A read timeout or cancellation leaves the connection closed."""
        self.answer = self.loop.create_future()
        self.headers, self.body, self.headers_done, self.reusable = [], [], False, False
        self.transport.write(data)
        if read_timeout is not None:
            self.last_read = self.loop.time()
            self.timer = self.loop.call_at(self.last_read + read_timeout, self._check_idle, read_timeout)
        try:
            return await self.answer
        except BaseException:
            self.close()
            raise
        finally:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None

    def close(self) -> None:
        self.reusable = False
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _framed(self) -> bool:
        """Whether the answer says where its body ends (a length, or chunks); else the connection's end
        does."""
        names = {name.lower() for name, _ in self.headers}
        return b"content-length" in names or b"transfer-encoding" in names

    def _check_idle(self, read_timeout: float) -> None:
        self.timer = None
        if self.answer is None or self.answer.done():
            return
        quiet = self.loop.time() - self.last_read
        if quiet >= read_timeout:
            self._fail(httpx.ReadTimeout(f"No byte of the answer for {read_timeout:g} s"))
            self.close()
        else:
            self.timer = self.loop.call_at(self.last_read + read_timeout, self._check_idle, read_timeout)

    def _finish(self, *, reusable: bool) -> None:
        if self.answer.done():  # a second message in the bytes of one answer: a server out of step
            self.reusable = False
            return
        self.reusable = reusable and not self.closed
        self.answer.set_result(Answer(self.parser.get_status_code(), self.headers, b"".join(self.body)))
        self.headers, self.body = [], []  # whatever follows in the same bytes cannot touch this answer

    def _fail(self, exc: Exception) -> None:
        self.reusable = False
        if not self.answer.done():
            self.answer.set_exception(exc)


class Http1Pool:
    """Kept-alive connections per origin for one event loop, at most `max_connections` open at once (None:
    no bound), an idle one closed after `keepalive_seconds` and at most `max_idle` kept per origin."""

    def __init__(
        self,
        *,
        max_connections: int | None,
        max_idle: int | None,
        keepalive_seconds: float | None,
        ssl_context: ssl.SSLContext,
    ) -> None:
        self._idle: dict[Origin, deque[Connection]] = {}
        self._slots = asyncio.Semaphore(max_connections) if max_connections else None
        self._max_idle = max_idle
        self._keepalive = keepalive_seconds
        self._ssl = ssl_context

    async def post(self, url: str, headers: dict[str, str], body: bytes, timeout: httpx.Timeout) -> Answer:
        """POST `body` to `url` with `headers` (plus `Host` and `content-length`) and read the whole answer.
        Errors are httpx's: `PoolTimeout`, `ConnectTimeout`, `ConnectError`, `ReadTimeout`,
        `RemoteProtocolError`, `LocalProtocolError`, `UnsupportedProtocol`."""
        target = target_of(url)
        data = request_head(target, headers, len(body)) + body
        if self._slots is not None:
            await self._slot(timeout.pool)
        try:
            connection = self._idle_connection(target.origin) or await self._connect(target.origin, timeout)
            answer = await connection.exchange(data, timeout.read)
            if connection.reusable:
                self._keep(target.origin, connection)
            else:
                connection.close()
            return answer
        finally:
            if self._slots is not None:
                self._slots.release()

    async def _slot(self, seconds: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # a free slot: taken without waiting
            return
        try:
            async with asyncio.timeout(seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(f"No free connection within {seconds:g} s") from None

    def close(self) -> None:
        """Close every idle connection (connections in use close as their exchange ends)."""
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()

    def _idle_connection(self, origin: Origin) -> Connection | None:
        connections = self._idle.get(origin)
        while connections:
            connection = connections.pop()  # the most recently used: the least likely to have expired
            expired = (
                self._keepalive is not None
                and connection.loop.time() - connection.idle_since > self._keepalive
            )
            if connection.closed or connection.transport.is_closing() or expired:
                connection.close()
                continue
            return connection
        return None

    def _keep(self, origin: Origin, connection: Connection) -> None:
        connections = self._idle.setdefault(origin, deque())
        if self._max_idle is not None and len(connections) >= self._max_idle:
            connection.close()
            return
        connection.idle_since = connection.loop.time()
        connections.append(connection)

    async def _connect(self, origin: Origin, timeout: httpx.Timeout) -> Connection:
        loop = asyncio.get_running_loop()
        tls = origin.scheme == "https"
        try:
            async with asyncio.timeout(timeout.connect):
                _, connection = await loop.create_connection(
                    lambda: Connection(loop),
                    origin.host,
                    origin.port,
                    ssl=self._ssl if tls else None,
                    server_hostname=origin.host if tls else None,
                )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"Connecting to {origin.host}:{origin.port} timed out") from None
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(f"Cannot connect to {origin.host}:{origin.port}: {exc}") from None
        return connection
