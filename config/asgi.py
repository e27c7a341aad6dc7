"""The ASGI entry point. The gateway endpoints skip Django's middleware stack.

`/v1/...` (the OpenAI-compatible proxy), `/api/v1/route`, `/api/v1/jobs/<id>` and call feedback
authenticate by API key and use no session, CSRF token, messages or static files, while each sync
middleware would cost them two hops through Django's single thread for sync code. They are served by a
handler with no middleware, so a request stays on the event loop from socket to upstream call.
Everything else gets the full stack. Every response, of either, carries an `x-request-id`: the client's
own when it sent a sane one, else a new one, so a client's log line and the server's meet.
"""

import os
import re
import uuid

from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

GATEWAY_PATHS = frozenset({"/api/v1/route"})
GATEWAY_PREFIXES = ("/v1/", "/api/v1/jobs/")


class GatewayHandler(ASGIHandler):
    """Django's ASGI handler with an empty middleware stack, and without a thread per request.

    Django wraps each request in a ThreadSensitiveContext, which starts a new thread for the request's
    sync work (its signal receivers). Gateway requests share one long-lived thread for that instead.
    """

    async def __call__(self, scope, receive, send):
        await self.handle(scope, receive, send)

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        get_response = self._get_response_async if is_async else self._get_response
        self._middleware_chain = convert_exception_to_response(get_response)


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
