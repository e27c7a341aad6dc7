"""One adapter per provider kind per process, so every call reuses its pooled connections."""

from __future__ import annotations

from functools import cache

from django.conf import settings

from routing.hooks import hooks
from routing.providers import adapter_class
from routing.providers.base import ProviderAdapter, RetryPolicy, RetryShare, Timeouts


def _replay_lookup(dataset_name: str, model_name: str, prompt: str):
    """Looked up through the hook at call time, so the experiments app may register it after this import."""
    return hooks.recorded_answer(dataset_name, model_name, prompt)


@cache
def retry_share() -> RetryShare:
    """One per process, shared by every adapter: the retry share is per provider base URL."""
    return RetryShare(ratio=settings.PROVIDER_RETRY_RATIO)


@cache
def adapter_for(kind: str) -> ProviderAdapter:
    timeouts = Timeouts(connect=settings.PROVIDER_CONNECT_TIMEOUT, read=settings.PROVIDER_READ_TIMEOUT)
    retry = RetryPolicy(max_attempts=settings.PROVIDER_MAX_ATTEMPTS)
    extra = {"lookup": _replay_lookup} if kind == "replay" else {}
    return adapter_class(kind)(timeouts=timeouts, retry=retry, retry_share=retry_share(), **extra)
