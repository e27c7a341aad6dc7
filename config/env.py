"""Typed readers of environment variables that fail loudly on a bad value.

Every setting routelab reads from the environment goes through one of these, so a typo in a
deployment stops the process at start-up with a message naming the variable, not hours later.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}

# Every variable routelab's configuration reads: none of them may be sent to a provider as its key.
_NAMES_READ: set[str] = set()


class EnvError(ValueError):
    """A malformed environment variable; the message names it and says what was expected."""


def _read(name: str) -> str | None:
    _NAMES_READ.add(name)
    return os.environ.get(name)


def names_read() -> frozenset[str]:
    """The environment variables the settings have read through these helpers."""
    return frozenset(_NAMES_READ)


def env_str(name: str, default: str | None = None) -> str | None:
    value = _read(name)
    return default if value is None else value.strip()


def env_bool(name: str, default: bool) -> bool:
    value = _read(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise EnvError(f"{name}={value!r} is not a boolean; use one of true/false, 1/0, yes/no, on/off")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _read(name)
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        raise EnvError(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise EnvError(f"{name}={number} is below its minimum {minimum}")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _read(name)
    if value is None or not value.strip():
        return default
    try:
        number = float(value)
    except ValueError:
        raise EnvError(f"{name}={value!r} is not a number") from None
    if minimum is not None and number < minimum:
        raise EnvError(f"{name}={number} is below its minimum {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _read(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, schemes: set[str]) -> str | None:
    """A URL whose scheme is one of `schemes`, or None when the variable is unset or empty."""
    value = env_str(name)
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        raise EnvError(f"{name} must be a URL with scheme {' or '.join(sorted(schemes))}, got {value!r}")
    return value
