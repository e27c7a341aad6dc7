"""Work a gateway request does once its response is sent: recording the call and the model's outcome.

A proxied call's record (one Redis round trip) and its model's success on the breaker and latency window
(another) change nothing the client reads, so the client need not wait for them. The ASGI handler
(`config.asgi.GatewayHandler`) serves each request inside `deferral()`, which runs the work deferred
meanwhile, in order, after the response's last byte has been sent, shielded from the client hanging up
and awaited by the ASGI call's task, so a server shutting down gracefully waits for it as it waits for
the request. Outside that handler (Django's test client, a Celery task) `after_response` awaits the work
at once, as before. A failure is still recorded before the response: the fallback that follows reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from contextvars import ContextVar

logger = logging.getLogger(__name__)
_pending: ContextVar[list[Coroutine] | None] = ContextVar("routelab_after_response", default=None)
_running: set[asyncio.Task] = set()  # held until done: a cancelled ASGI call leaves no one awaiting them


async def after_response(work: Coroutine) -> None:
    """Run `work` after the response is sent when a `deferral()` is open, else now; shielded either way,
    so a client hanging up cancels the request, never the recording of what it cost."""
    pending = _pending.get()
    if pending is None:
        await asyncio.shield(work)
    else:
        pending.append(work)


@contextlib.asynccontextmanager
async def deferral():
    """Collect the `after_response` work of what runs inside, and run it when the block ends."""
    pending: list[Coroutine] = []
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
        if pending:
            running = asyncio.create_task(_run(pending))
            _running.add(running)
            running.add_done_callback(_running.discard)
            await asyncio.shield(running)


async def _run(pending: list[Coroutine]) -> None:
    for work in pending:
        try:
            await work
        except Exception:  # one failed write must not keep the next (the call's record) from running
            logger.exception("deferred gateway work failed")
