"""The judge's ratings cache in Redis (Django's cache), shared by every worker, kept for 30 days.

`LlmJudge` reads it with `get` and writes it with `[]=`; a rating depends only on the prompt, answer,
reference, judge model and rubric version (its key says so), so it never goes stale, and the TTL only
bounds the memory it takes.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from django.core.cache import cache

TTL_SECONDS = 30 * 24 * 3600
PREFIX = "judge:"
_MISSING = object()


class JudgeCache(MutableMapping[str, Any]):
    """A mapping over Django's cache; it cannot be listed or counted, as a shared cache cannot."""

    def __init__(self, ttl: int = TTL_SECONDS):
        self.ttl = ttl

    def __getitem__(self, key: str) -> Any:
        value = cache.get(PREFIX + key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        cache.set(PREFIX + key, value, timeout=self.ttl)

    def __delitem__(self, key: str) -> None:
        if not cache.delete(PREFIX + key):
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise TypeError("the judge cache in Redis cannot be listed")

    def __len__(self) -> int:
        raise TypeError("the judge cache in Redis cannot be counted")


judge_cache = JudgeCache()
