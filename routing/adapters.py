"""One adapter per provider kind per process, so every call reuses its pooled connections."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from routing.providers import adapter_class
from routing.providers.base import ProviderAdapter, RetryPolicy, Timeouts


def _replay_lookup(dataset_name: str, model_name: str, prompt: str):
    from experiments.selectors import recorded_answer_get

    return recorded_answer_get(dataset_name=dataset_name, model_name=model_name, prompt=prompt)


@cache
def adapter_for(kind: str) -> ProviderAdapter:
    timeouts = Timeouts(connect=settings.PROVIDER_CONNECT_TIMEOUT, read=settings.PROVIDER_READ_TIMEOUT)
    retry = RetryPolicy(max_attempts=settings.PROVIDER_MAX_ATTEMPTS)
    extra = {"lookup": _replay_lookup} if kind == "replay" else {}
    return adapter_class(kind)(timeouts=timeouts, retry=retry, **extra)
