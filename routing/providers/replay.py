"""The replay provider: the answer a model gave to a prompt in a recorded dataset, with no HTTP call.

The dataset is the provider's `options["dataset"]`, the model the target's `model_id`, the prompt the text
of the last user message. Its recorded quality, normalised to [0, 1] by the dataset's quality scale, is
the result's `quality`. The lookup is injected (`experiments.selectors.recorded_answer_lookup`), so this
module stays free of Django; tokens are estimated as ceil(characters / 4) and priced like any call.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from routing.gateway.threads import in_db_thread
from routing.providers.base import (
    CallBudget,
    ChatRequest,
    CompletionResult,
    ModelTarget,
    ProviderAdapter,
    ProviderError,
    StreamDelta,
    budget_exhausted,
    content_text,
    estimate_tokens,
    message_chars,
)

STREAM_PIECES = 4


class RecordedAnswerLike(Protocol):
    answer: str
    quality: float | None
    quality_scale: float


Lookup = Callable[[str, str, str], RecordedAnswerLike | None]  # (dataset_name, model_name, prompt)


class ReplayAdapter(ProviderAdapter):
    kind = "replay"

    def __init__(self, *, lookup: Lookup, stream_pieces: int = STREAM_PIECES, **kwargs: Any):
        super().__init__(**kwargs)
        self.lookup = lookup
        self.stream_pieces = max(1, stream_pieces)

    @staticmethod
    def _admit(budget: CallBudget | None) -> None:
        """A replay is one attempt of the client request's budget; it is never retried."""
        if budget is not None and not budget.take():
            raise budget_exhausted()

    async def acomplete(
        self, target: ModelTarget, request: ChatRequest, *, budget: CallBudget | None = None
    ) -> CompletionResult:
        self._admit(budget)
        started = time.perf_counter()
        record = await self._find(target, request)
        return self._result(target, request, record, started, first=None)

    async def astream(
        self, target: ModelTarget, request: ChatRequest, *, budget: CallBudget | None = None
    ) -> AsyncIterator[StreamDelta | CompletionResult]:
        self._admit(budget)
        started = time.perf_counter()
        record = await self._find(target, request)
        first = time.perf_counter()
        for piece in split_pieces(record.answer, self.stream_pieces):
            yield StreamDelta(text=piece)
        yield self._result(target, request, record, started, first=first)

    # -- internals ----------------------------------------------------------------------------------

    async def _find(self, target: ModelTarget, request: ChatRequest) -> RecordedAnswerLike:
        """The lookup is synchronous and usually queries the database, which Django forbids on the event
        loop. thread_sensitive=True runs it in the thread that owns the caller's database connection (the
        request's thread under Django's ASGI handler, the outer thread under async_to_sync): connections are
        reused and closed by Django as usual and see the caller's open transaction. thread_sensitive=False
        would open a connection per pool thread that Django never closes."""
        dataset, prompt = _dataset_name(target), last_user_text(request)
        lookup = in_db_thread(self.lookup)
        return _found(await lookup(dataset, target.model_id, prompt), dataset, target)

    def _result(self, target, request, record: RecordedAnswerLike, started: float, first: float | None):
        latency_ms = (time.perf_counter() - started) * 1000
        input_tokens = estimate_tokens(message_chars(request.messages))
        output_tokens = estimate_tokens(len(record.answer))
        return CompletionResult(
            text=record.answer,
            finish_reason="stop",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=target.price.cost(input_tokens, output_tokens),
            latency_ms=latency_ms,
            ttft_ms=latency_ms if first is None else (first - started) * 1000,
            model=target.model_id,
            quality=normalised_quality(record.quality, record.quality_scale),
        )


def last_user_text(request: ChatRequest) -> str:
    """The text of the last user message: string content, or its text parts joined."""
    for message in reversed(request.messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    raise ProviderError("a replayed request needs a user message", kind="bad_request", retryable=False)


def normalised_quality(quality: float | None, scale: float) -> float | None:
    """The recorded quality divided by the dataset's scale (1 for correctness, 10 for judge scores)."""
    if quality is None or not scale or scale <= 0:
        return None
    return min(max(quality / scale, 0.0), 1.0)


def split_pieces(text: str, count: int) -> list[str]:
    """The text cut into at most `count` consecutive pieces of near-equal length."""
    if not text:
        return []
    size = math.ceil(len(text) / count)
    return [text[start : start + size] for start in range(0, len(text), size)]


def _dataset_name(target: ModelTarget) -> str:
    dataset = (target.options or {}).get("dataset")
    if not dataset:
        raise ProviderError(
            'a replay provider names its dataset in its options: {"dataset": "<name>"}',
            kind="bad_request",
            retryable=False,
        )
    return str(dataset)


def _found(record: RecordedAnswerLike | None, dataset: str, target: ModelTarget) -> RecordedAnswerLike:
    if record is None:
        raise ProviderError(
            f"dataset {dataset!r} has no recorded answer of model {target.model_id!r} to this prompt",
            kind="not_found",
            retryable=False,
        )
    return record
