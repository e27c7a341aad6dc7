"""Work deferred until a gateway response is sent: run in order, at once outside a deferral, never lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from routing.gateway.after_response import after_response, deferral


async def _note(ran: list, value, delay: float = 0.0) -> None:
    await asyncio.sleep(delay)
    ran.append(value)


def test_work_deferred_inside_a_deferral_runs_in_order_when_the_block_ends():
    async def main() -> list:
        ran = []
        async with deferral():
            await after_response(_note(ran, "outcome", delay=0.01))
            await after_response(_note(ran, "record"))
            assert ran == []  # the response would be sent here
        return ran

    assert asyncio.run(main()) == ["outcome", "record"]


def test_outside_a_deferral_the_work_runs_at_once():
    async def main() -> list:
        ran = []
        await after_response(_note(ran, "record"))
        assert ran == ["record"]
        return ran

    assert asyncio.run(main()) == ["record"]


def test_a_failing_piece_of_work_is_logged_and_the_next_still_runs(caplog):
    async def broken() -> None:
        raise RuntimeError("Redis said no")

    async def main() -> list:
        ran = []
        async with deferral():
            await after_response(broken())
            await after_response(_note(ran, "record"))
        return ran

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(main()) == ["record"]
    assert "deferred gateway work failed" in caplog.text
    assert "Redis said no" in caplog.text


def test_work_deferred_by_a_request_that_is_cancelled_still_runs_to_the_end():
    """A client hanging up cancels the request's task; what it deferred (its call's record) still runs."""

    async def main() -> list:
        ran = []
        started = asyncio.Event()

        async def request() -> None:
            async with deferral():
                await after_response(_note(ran, "record", delay=0.05))
                started.set()
                await asyncio.sleep(3600)  # the view, until the client hangs up

        task = asyncio.create_task(request())
        await started.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for _ in range(100):
            if ran:
                break
            await asyncio.sleep(0.01)
        return ran

    assert asyncio.run(main()) == ["record"]
