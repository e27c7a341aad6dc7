"""The provider calls' HTTP transport: httpx's API over aiohttp's connection pool and C parser.

Profiling one proxied request (README, "Benchmarks") showed httpx's own
transport (httpcore over anyio) costing about 0.6 ms of CPU per upstream call, and more under
concurrency, against about 0.15 ms for aiohttp. The adapters keep httpx's request, response, streaming
and exception types (the error classification in `providers.base` reads them); only the bytes on the wire
go through aiohttp. The same pattern as the `httpx-aiohttp` package that the openai SDK offers, with
its own exception mapping, so a dropped connection reads as one and not as a timeout.

`PooledClient.post_json`, the non-streamed provider call, goes further: it sends the bytes and headers
httpx would send over `providers.http1` (an asyncio protocol and httptools' parser, about 0.35 ms a call
less than aiohttp's client, which itself saved about 0.4 ms of httpx's request building, cookie jar, auth
and redirect steps) and reads a success as a `JsonAnswer` (an error or a compressed body as an
`httpx.Response`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Iterator
from json import dumps as json_dumps
from json import loads as json_loads
from typing import Any

import aiohttp
import httpx

from routing.providers.http1 import Http1Pool

# aiohttp's errors as httpx's, most specific first: the first match wins
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.NetworkError),
    (TimeoutError, httpx.ReadTimeout),  # aiohttp's own timeouts are also TimeoutErrors
    (ConnectionError, httpx.NetworkError),
)


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request | None) -> Iterator[None]:
    try:
        yield
    except tuple(source for source, _ in _ERRORS) as exc:
        target = next(target for source, target in _ERRORS if isinstance(exc, source))
        raise target(f"{type(exc).__name__}: {exc}", request=request) from exc


class _Body(httpx.AsyncByteStream):
    """The response body as aiohttp receives it: each chunk as soon as it arrives (a stream's events)."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response, self._request = response, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self._request):
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        self._response.release()  # back to the pool when read to the end, else the connection closes


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp pool per transport; a transport, like its httpx client, belongs to one event loop."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._http1: Http1Pool | None = None
        self._ssl: ssl.SSLContext | None = None

    def pool(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry,
                ssl=self._ssl_context(),
            )
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    def http1(self) -> Http1Pool:
        """The pool of `post_json`'s connections: its own, under the same limits as the streams'."""
        if self._http1 is None:
            self._http1 = Http1Pool(
                max_connections=self._limits.max_connections,
                max_idle=self._limits.max_keepalive_connections,
                keepalive_seconds=self._limits.keepalive_expiry,
                ssl_context=self._ssl_context(),
            )
        return self._http1

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        return self._ssl

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _as_httpx_errors(request):
            response = await self.pool().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=await request.aread() or None,
                allow_redirects=False,
                compress=False,
                timeout=_timeout(request.extensions.get("timeout", {})),
            )
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )

    def __del__(self) -> None:
        """A pool whose event loop ended without closing it (a test's short-lived loop, or the process's
        at exit): its sockets closed now, so aiohttp has no unclosed session or connector to report.
        `_close` is the synchronous part of `close()`, which would schedule a task on the dead loop."""
        if self._session is not None and not self._session.closed:
            with contextlib.suppress(Exception):
                self._session.connector._close(abort_ssl=True)
        if self._http1 is not None:
            with contextlib.suppress(Exception):
                self._http1.close()

    async def aclose(self) -> None:
        if self._http1 is not None:
            self._http1.close()
        if self._session is not None:
            await self._session.close()
            await asyncio.sleep(0)  # let aiohttp close its transports before the loop may end


class JsonAnswer:
    """A provider's whole, successful, unencoded answer as the hot path reads it: what `httpx.Response`
    offers for that (`status_code`, `headers`, `content`, `json()`), without building one."""

    __slots__ = ("status_code", "_raw_headers", "content")

    def __init__(self, status_code: int, raw_headers, content: bytes) -> None:
        self.status_code, self._raw_headers, self.content = status_code, raw_headers, content

    @property
    def headers(self) -> httpx.Headers:
        return httpx.Headers(self._raw_headers)

    def json(self) -> Any:
        return json_loads(self.content)


class PooledClient(httpx.AsyncClient):
    """httpx's client over an `AiohttpTransport`, with `post_json` for the hot path's whole JSON POSTs."""

    def __init__(self, *, transport: AiohttpTransport, timeout: httpx.Timeout, limits: httpx.Limits) -> None:
        super().__init__(timeout=timeout, transport=transport, limits=limits)
        self._wire = transport
        self._default_headers = {name.lower(): value for name, value in self.headers.items()}

    async def post_json(self, url: str, *, headers: dict[str, str], json: Any) -> httpx.Response | JsonAnswer:
        """`post(url, headers=headers, json=json)`: the same bytes and headers on the wire. A success is
        a `JsonAnswer`; an error status, or a compressed body, an `httpx.Response` (decoded by httpx)."""
        body = json_dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        sent = {**self._default_headers, **{name.lower(): value for name, value in headers.items()}}
        sent.setdefault("content-type", "application/json")
        answer = await self._wire.http1().post(url, sent, body, self.timeout)
        if answer.status < 400 and not any(n.lower() == b"content-encoding" for n, _ in answer.raw_headers):
            return JsonAnswer(answer.status, answer.raw_headers, answer.content)
        response = httpx.Response(answer.status, headers=answer.raw_headers, content=answer.content)
        response.request = httpx.Request("POST", url, headers=sent)  # what an error's message may read
        return response


def _timeout(timeout: dict) -> aiohttp.ClientTimeout:
    """httpx's timeouts as aiohttp's: connect covers waiting for a pooled connection and opening one."""
    connect, pool = timeout.get("connect"), timeout.get("pool")
    waiting = None if connect is None and pool is None else (connect or 0) + (pool or 0)
    return aiohttp.ClientTimeout(
        total=None, connect=waiting, sock_connect=connect, sock_read=timeout.get("read")
    )
