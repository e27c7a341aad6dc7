"""A provider stream read to its end from a sync test, the way a sync caller would drive `astream`."""

from __future__ import annotations

from asgiref.sync import async_to_sync


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
