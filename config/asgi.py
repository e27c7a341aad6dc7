"""The ASGI entry point. The gateway endpoints skip Django's middleware stack.

`/v1/...` (the OpenAI-compatible proxy), `/api/v1/route`, `/api/v1/jobs/<id>` and call feedback
authenticate by API key and use no session, CSRF token, messages or static files, while each sync
middleware would cost them two hops through Django's single thread for sync code. They are served by a
handler with no middleware, so a request stays on the event loop from socket to upstream call.
Everything else gets the full stack. Every response, of either, carries an `x-request-id`: the client's
own when it sent a sane one, else a new one, so a client's log line and the server's meet.
"""

import asyncio
import gc
import io
import os
import re
import uuid

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response, response_for_exception
from django.http import HttpResponse
from django.urls import ResolverMatch, get_resolver, set_script_prefix
from django.utils.log import log_response

from routing.gateway.after_response import deferral

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()
# The URL configuration imports every view module (the dashboard's plotly among them): done here, not by
# a worker's first request, which it cost about 150 ms, and its objects are frozen with the apps'.
get_resolver().url_patterns  # noqa: B018 - loading it is the point
# The loaded apps' objects (about 157,000) are permanent: out of the collector's view, a full collection
# scans only what requests made, and stalls the event loop for about 30 ms here instead of 100.
gc.freeze()

GATEWAY_PATHS = frozenset({"/api/v1/route"})
GATEWAY_PREFIXES = ("/v1/", "/api/v1/jobs/")


class _Exchange:
    """One gateway request's state between its serving and its disconnect listener."""

    __slots__ = ("answering", "hung_up")

    def __init__(self) -> None:
        self.answering = False
        self.hung_up = False


class GatewayHandler(ASGIHandler):
    """Django's ASGI handler cut to what a gateway request needs: no middleware, no thread per request,
    no request signals, the body read into memory, and the view called and its response sent in the ASGI
    call's own task.

    Django wraps each request in a ThreadSensitiveContext, which starts a new thread for the request's
    sync work, and sends `request_started` and `request_finished`, whose receivers are sync functions, so
    each costs a hop to a thread and back. A gateway request does no sync work in steady state; the few
    functions that reach the database run through `routing.gateway.threads.in_db_thread`, which does the
    connection upkeep those receivers did. The body is capped at DATA_UPLOAD_MAX_MEMORY_SIZE plus one
    byte, the rest drained unread, so a too-large body is still the 413 Django would give.

    Django's `get_response_async` (URL configuration, view middleware, atomic requests, template
    responses) and its two tasks per request (one serving, one listening for a disconnect) cost about a
    quarter of a millisecond a request, more than the rest of routelab's routing. Here an async view is
    called directly: its URL resolved once per exact path, an exception turned into Django's own error
    response, 4xx and 5xx logged as Django logs them; a sync view (none of the gateway's is) still goes
    through Django. One task listens for the client hanging up and cancels the view, as Django does, until
    the response's last message is being sent (uvicorn wakes that listener as a response completes). What
    the view defers (`routing.gateway.after_response`: the call's record) runs in this same task once the
    response is out, so a graceful shutdown waits for it.
    """

    def __init__(self):
        super().__init__()
        self._exact: dict[str, ResolverMatch] = {}

    async def __call__(self, scope, receive, send):
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        try:
            body = await read_capped_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, io.BytesIO(body))
        if request is None:
            await self.send_response(error_response, send)
            return
        async with deferral():
            await self._serve_until_disconnect(request, receive, send)

    async def _serve_until_disconnect(self, request, receive, send):
        """The view's response sent; the view cancelled if the client hangs up first, as Django does."""
        serving = asyncio.current_task()
        exchange = _Exchange()

        async def listen():
            message = await receive()
            if message["type"] == "http.disconnect" and not exchange.answering:
                exchange.hung_up = True
                serving.cancel()

        listener = asyncio.create_task(listen())
        try:
            await self._send(await self._response(request), send, exchange)
        except asyncio.CancelledError:
            if not exchange.hung_up:
                raise  # cancelled from outside (the server stopping), not by the client hanging up
            serving.uncancel()
        finally:
            listener.cancel()

    async def _response(self, request) -> HttpResponse:
        try:
            view, args, kwargs = self._resolve(request)
            if iscoroutinefunction(view):
                response = await view(request, *args, **kwargs)
            else:  # pragma: no cover - no gateway path has a sync view; Django's way serves one
                return await self.run_get_response(request)
        except Exception as exc:
            response = await sync_to_async(response_for_exception, thread_sensitive=False)(request, exc)
        if response.status_code >= 400:
            await sync_to_async(log_response, thread_sensitive=False)(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        return response

    def _resolve(self, request):
        """Django's `resolve_request`, its match kept for an exact path (a path with parameters, or the
        catch-all's, is resolved each time, so no client can grow the cache)."""
        match = self._exact.get(request.path_info)
        if match is None:
            view, args, kwargs = self.resolve_request(request)
            if not args and not kwargs:
                self._exact[request.path_info] = request.resolver_match
            return view, args, kwargs
        request.resolver_match = match
        return match.func, match.args, match.kwargs

    async def _send(self, response: HttpResponse, send, exchange: _Exchange) -> None:
        """Django's `send_response`, whole answers with their length (else uvicorn sends them chunked).
        Once the last message is being sent, a hang-up no longer cancels anything."""
        if not response.streaming and not response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))

        async def send_marking_the_last(message):
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                exchange.answering = True
            await send(message)

        await self.send_response(response, send_marking_the_last)

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = self._get_response_async if is_async else self._get_response
        self._middleware_chain = convert_exception_to_response(get_response)


async def read_capped_body(receive, limit: int | None) -> bytes:
    """The request body, at most `limit` + 1 bytes of it kept (enough for the size check to refuse it)."""
    chunks, kept = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestAborted()
        chunk = message.get("body", b"")
        if limit is None or kept <= limit:
            chunks.append(chunk)
            kept += len(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


gateway_application = GatewayHandler()


def is_gateway_path(path: str) -> bool:
    """Paths that authenticate by API key and use no session: the proxy, decisions, jobs, feedback."""
    if path.startswith(GATEWAY_PREFIXES) or path in GATEWAY_PATHS:
        return True
    return path.startswith("/api/v1/calls/") and path.endswith("/feedback")


REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def request_id_of(headers: list[tuple[bytes, bytes]]) -> bytes:
    """The client's `x-request-id` when it is a short token, else a new random one."""
    given = next((value for name, value in headers if name.lower() == b"x-request-id"), b"")
    return given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex.encode()


async def application(scope, receive, send):
    if scope["type"] != "http":
        return await django_application(scope, receive, send)
    request_id = request_id_of(scope.get("headers", []))

    async def send_with_id(message):
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
            message = {**message, "headers": [*headers, (b"x-request-id", request_id)]}
        await send(message)

    served = gateway_application if is_gateway_path(scope.get("path", "")) else django_application
    return await served(scope, receive, send_with_id)
