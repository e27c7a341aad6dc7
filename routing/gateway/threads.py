"""Sync database work from the gateway's async views, with the connection upkeep Django's request
signals would do.

The gateway's ASGI handler (config/asgi.py) sends no `request_started` or `request_finished`, so nothing
else closes a connection that broke (a PostgreSQL restart) or outlived CONN_MAX_AGE, nor re-arms its
health check. Every sync function the gateway runs against the database goes through `in_db_thread`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.db import connections


def in_db_thread(function: Callable) -> Callable:
    """`function` as an awaitable run in Django's sync thread, with stale connections closed around it."""

    @functools.wraps(function)
    def with_upkeep(*args, **kwargs):
        _close_old_connections()
        try:
            return function(*args, **kwargs)
        finally:
            _close_old_connections()

    return sync_to_async(with_upkeep)


def _close_old_connections() -> None:
    """Django's `close_old_connections`, except for a connection inside a transaction (a test's), which
    it would close for not being in autocommit."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
