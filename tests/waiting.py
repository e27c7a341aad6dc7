"""Waiting for work another process or thread does (a Celery worker, a server), without a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.2) -> bool:
    """True as soon as `condition()` holds, polling until `timeout` seconds; then its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
