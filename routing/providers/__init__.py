"""Provider adapters: one module per wire format over `base.ProviderAdapter`, and the registry of kinds."""

from routing.providers.anthropic import AnthropicAdapter
from routing.providers.base import (
    ChatRequest,
    CompletionResult,
    ModelTarget,
    ParsedCompletion,
    Price,
    ProviderAdapter,
    ProviderError,
    RetryPolicy,
    StreamDelta,
    Timeouts,
    error_from_exception,
    error_from_response,
    parse_retry_after,
)
from routing.providers.openai import OpenAIAdapter
from routing.providers.replay import ReplayAdapter

ADAPTER_CLASSES: dict[str, type[ProviderAdapter]] = {
    "openai": OpenAIAdapter,
    "openai_compatible": OpenAIAdapter,
    "simulator": OpenAIAdapter,
    "anthropic": AnthropicAdapter,
    "replay": ReplayAdapter,
}


def adapter_class(kind: str) -> type[ProviderAdapter]:
    """The adapter class for a provider kind; KeyError naming the known kinds for any other."""
    try:
        return ADAPTER_CLASSES[kind]
    except KeyError:
        known = ", ".join(sorted(ADAPTER_CLASSES))
        raise KeyError(f"unknown provider kind {kind!r}; known kinds: {known}") from None


def serves_embeddings(kind: str) -> bool:
    """Whether a provider of `kind` has an embeddings endpoint (OpenAI's wire format has, Anthropic's not)."""
    return kind in ADAPTER_CLASSES and ADAPTER_CLASSES[kind].serves_embeddings


__all__ = [
    "ADAPTER_CLASSES",
    "AnthropicAdapter",
    "ChatRequest",
    "CompletionResult",
    "ModelTarget",
    "OpenAIAdapter",
    "ParsedCompletion",
    "Price",
    "ProviderAdapter",
    "ProviderError",
    "ReplayAdapter",
    "RetryPolicy",
    "StreamDelta",
    "Timeouts",
    "adapter_class",
    "error_from_exception",
    "error_from_response",
    "parse_retry_after",
    "serves_embeddings",
]
