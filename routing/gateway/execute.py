"""Step 5 of a live request: run a decision with resilience.

Each model in the chain (the decision's model, then its fallbacks) is skipped while its circuit is open
or its provider's rate limit has no room; the adapter retries retryable errors with backoff (honouring
Retry-After); a failure moves on down the chain. A cascade calls its cheapest model first and escalates
while the answer's confidence stays under the threshold. Each attempt is recorded for the call row.
"""

from __future__ import annotations

import asyncio
import re
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

from django.conf import settings
from redis.exceptions import NoScriptError

from routing.gateway.adapters import adapter_for, retry_share
from routing.gateway.live import latency_window, record_outcome
from routing.gateway.redis_client import get_async_redis, outage
from routing.gateway.resilience import (
    CircuitBreaker,
    ClosedLeases,
    Degrading,
    LocalBreaker,
    LocalTokenBucket,
    TokenBucket,
)
from routing.gateway.snapshot import ModelEntry, RouteEntry, RoutingSnapshot
from routing.policies import answer_confidence, answer_kind, structured_confidence
from routing.policies.types import CascadePlan, Decision, RouteRequest
from routing.providers.base import (
    CallBudget,
    ChatRequest,
    CompletionResult,
    EmbeddingRequest,
    ProviderError,
    StreamDelta,
    estimate_tokens,
)

Work = ChatRequest | EmbeddingRequest  # what a provider is asked: a chat answer, or embeddings


@dataclass(frozen=True)
class Execution:
    result: CompletionResult
    model: ModelEntry
    attempts: tuple[dict, ...]
    fallbacks_used: int
    escalations: int
    total_cost: Decimal
    total_input_tokens: int
    total_output_tokens: int


class ExecutionFailed(Exception):
    def __init__(
        self,
        message: str,
        attempts: list[dict],
        error: ProviderError | None,
        budget: CallBudget | None = None,
    ):
        super().__init__(message)
        self.attempts = attempts
        self.error = error
        left = budget.seconds_left() if budget is not None else None
        self.deadline_passed = left is not None and left <= 0.05

    @property
    def request_fault(self) -> bool:
        return self.error is not None and self.error.request_fault

    @property
    def kind(self) -> str:
        if self.deadline_passed:
            return "deadline"
        return self.error.kind if self.error else "no_model_available"


def _breaker_limits() -> dict:
    return {
        "failure_threshold": settings.BREAKER_FAILURE_THRESHOLD,
        "window_seconds": settings.BREAKER_WINDOW_SECONDS,
        "min_calls": settings.BREAKER_MIN_CALLS,
        "error_rate_threshold": settings.BREAKER_ERROR_RATE,
        "open_seconds": settings.BREAKER_OPEN_SECONDS,
    }


@cache
def _local_breaker(limits: tuple) -> LocalBreaker:
    return LocalBreaker(**dict(limits))


_local_bucket = LocalTokenBucket()


@cache
def _closed_leases(seconds: float) -> ClosedLeases:
    return ClosedLeases(seconds)


def closed_leases() -> ClosedLeases:
    return _closed_leases(settings.BREAKER_CLOSED_LEASE_SECONDS)


def local_state_reset() -> None:
    """Forget this process's fallback breakers, buckets, closed-circuit leases and view of Redis's
    health (tests)."""
    global _local_bucket
    _local_breaker.cache_clear()
    _breakers.clear()
    _closed_leases.cache_clear()
    _local_bucket = LocalTokenBucket()
    outage.__init__()
    retry_share().reset()


# async Redis client -> (limits, the breakers shared through it, those degrading to this process's own)
_breakers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _breakers_made() -> tuple[tuple, CircuitBreaker, Degrading]:
    """Made once per Redis client (per event loop) and settings: making one registers its scripts."""
    limits = _breaker_limits()
    settled = tuple(sorted(limits.items()))
    client = get_async_redis()
    made = _breakers.get(client)
    if made is None or made[0] != settled:
        shared = CircuitBreaker(client, **limits)
        made = _breakers[client] = (settled, shared, Degrading(shared, _local_breaker(settled), outage))
    return made


def breaker() -> CircuitBreaker:
    """The breakers shared through Redis; while Redis fails, this process's own."""
    return _breakers_made()[2]


def bucket() -> TokenBucket:
    """The token buckets shared through Redis; while Redis fails, this process's own."""
    return Degrading(TokenBucket(get_async_redis()), _local_bucket, outage)


def _chars(work: Work) -> int:
    return work.chars if isinstance(work, EmbeddingRequest) else len(str(work.messages))


def _provider_call(entry: ModelEntry, work: Work, budget: CallBudget):
    """The one provider call of an attempt: an answer to a chat, or the vectors of an embeddings request."""
    adapter = adapter_for(entry.provider_kind)
    if isinstance(work, EmbeddingRequest):
        return adapter.aembed(entry.target, work, budget=budget)
    return adapter.acomplete(entry.target, work, budget=budget)


async def _rate_limit_allows(entry: ModelEntry, chat: Work) -> bool:
    """A provider's `rate_limits` option: {"requests_per_minute": n, "tokens_per_minute": n}."""
    limits = entry.target.options.get("rate_limits")
    if not limits:
        return True
    provider = entry.key.split("/", 1)[0]
    checks = [
        ("requests", limits.get("requests_per_minute"), 1.0),
        ("tokens", limits.get("tokens_per_minute"), float(estimate_tokens(_chars(chat)))),
    ]
    for name, per_minute, cost in checks:
        if per_minute and not await bucket().wait_and_acquire(
            f"{provider}:{name}",
            rate_per_second=per_minute / 60,
            capacity=per_minute,
            cost=cost,
            max_wait=settings.RATE_LIMIT_MAX_WAIT,
        ):
            return False
    return True


async def _breaker_allows(model_key: str) -> bool:
    """The model's circuit lets a call through; a circuit read as closed a moment ago is not asked
    again until its lease ends (`BREAKER_CLOSED_LEASE_SECONDS`)."""
    leases = closed_leases()
    if leases.holds(model_key):
        return True
    admission = await breaker().admission(model_key)
    if admission == "closed":
        leases.grant(model_key)
    return admission != "refused"


async def _admit(entry: ModelEntry, chat: Work, attempts: list[dict]) -> bool:
    if not await _breaker_allows(entry.key):
        attempts.append({"model": entry.key, "status": "skipped", "error_kind": "circuit_open"})
        return False
    if not await _rate_limit_allows(entry, chat):
        attempts.append({"model": entry.key, "status": "skipped", "error_kind": "rate_limited"})
        return False
    return True


async def _outcome_record(model_key: str, latency_ms: float, *, ok: bool) -> None:
    """A model's outcome on its circuit breaker and on its live latency window: two independent Redis
    round trips, made at once, so a call waits for one."""
    shared = breaker()
    on_breaker = shared.record_success(model_key) if ok else shared.record_failure(model_key)
    await asyncio.gather(on_breaker, record_outcome(model_key, latency_ms, ok=ok))


async def _failed(entry: ModelEntry, exc: ProviderError, started: float, attempts: list[dict]) -> None:
    """Count a model's failure against its breaker and live window, unless the request was at fault."""
    latency = (time.perf_counter() - started) * 1000
    if not exc.request_fault:
        closed_leases().end(entry.key)  # the next call asks whether this failure opened the circuit
        await _outcome_record(entry.key, latency, ok=False)
    attempts.append(
        {
            "model": entry.key,
            "status": "rejected" if exc.request_fault else "error",
            "error_kind": exc.kind,
            "http_status": exc.status,
            "message": exc.message[:300],
            "latency_ms": round(latency, 1),
        }
    )


async def _succeeded(entry: ModelEntry, result: CompletionResult, attempts: list[dict]) -> None:
    """The model answered: its breaker and latency window hear of it with the call's record (`Successes`)."""
    attempts.append(
        {
            "model": entry.key,
            "status": "ok",
            "latency_ms": round(result.latency_ms, 1),
            "provider_attempts": result.attempts,
        }
    )


@dataclass(frozen=True)
class Successes:
    """The models that answered a call, as (model, latency in ms): written on their circuit breakers and
    latency windows in the one round trip that records the call (`recorder.call_record_aenqueue`), after
    the response is sent. A failure is written at once instead, since the next model's admission reads it.
    """

    outcomes: tuple[tuple[str, float], ...]

    @classmethod
    def of(cls, attempts) -> Successes:
        return cls(tuple((a["model"], a["latency_ms"]) for a in attempts if a.get("status") == "ok"))

    def queue(self, pipe) -> int:
        """Each success as two commands on `pipe` (breaker, then window); how many were queued."""
        shared, window = _breakers_made()[1], latency_window()
        for model_key, latency_ms in self.outcomes:
            shared.queue_outcome(pipe, model_key, ok=True)
            window.queue_record(pipe, model_key, latency_ms, True)
        return 2 * len(self.outcomes)

    async def sent(self, replies: list) -> None:
        """The replies to `queue`'s commands: any that Redis refused for want of its script (a restarted
        Redis) is written again by the script's own call, which loads it."""
        for index, reply in enumerate(replies):
            if not isinstance(reply, NoScriptError):
                continue
            model_key, latency_ms = self.outcomes[index // 2]
            if index % 2 == 0:
                await breaker().record_success(model_key)
            else:
                await record_outcome(model_key, latency_ms, ok=True)

    async def unsent(self) -> None:
        """Redis failed (so the outage is noted): the breakers this process falls back to count the
        successes; live windows are advisory and skip them."""
        for model_key, latency_ms in self.outcomes:
            await _outcome_record(model_key, latency_ms, ok=True)


def call_budget(route: RouteEntry) -> CallBudget:
    """A client request's provider attempts and deadline: the route's, else the gateway's defaults."""
    seconds = route.deadline_seconds or settings.GATEWAY_DEADLINE_SECONDS
    attempts = route.max_attempts or settings.GATEWAY_MAX_ATTEMPTS
    return CallBudget(attempts=attempts, deadline=time.monotonic() + seconds)


def _time_slice(budget: CallBudget, models_left: int) -> float | None:
    """How long one model may take: the time left, less a reserve for each model after it, and never
    less than an equal share, so a hanging model still leaves its fallbacks time to answer."""
    left = budget.seconds_left()
    if left is None:
        return None
    reserve = settings.GATEWAY_FALLBACK_RESERVE_SECONDS * (models_left - 1)
    return max(left - reserve, left / models_left)


def _out_of_budget(budget: CallBudget, entry: ModelEntry, attempts: list[dict]) -> bool:
    left = budget.seconds_left()
    kind = (
        "deadline" if left is not None and left <= 0 else "budget_exhausted" if budget.attempts <= 0 else ""
    )
    if kind:
        attempts.append({"model": entry.key, "status": "skipped", "error_kind": kind})
    return bool(kind)


def _slice_timeout(seconds: float | None) -> ProviderError:
    return ProviderError(
        f"no answer within its {seconds:.1f} s share of the request's deadline",
        kind="timeout",
        retryable=True,
    )


async def _call(
    entry: ModelEntry, chat: Work, attempts: list[dict], budget: CallBudget, models_left: int
) -> tuple[CompletionResult | None, ProviderError | None]:
    if not await _admit(entry, chat, attempts):
        return None, None
    started, seconds = time.perf_counter(), _time_slice(budget, models_left)
    budget.reserved = models_left - 1
    try:
        async with asyncio.timeout(seconds):
            result = await _provider_call(entry, chat, budget)
    except TimeoutError:
        exc = _slice_timeout(seconds)
        await _failed(entry, exc, started, attempts)
        return None, exc
    except ProviderError as exc:
        await _failed(entry, exc, started, attempts)
        return None, exc
    await _succeeded(entry, result, attempts)
    return result, None


def _entries(snapshot: RoutingSnapshot, keys: tuple[str, ...]) -> list[ModelEntry]:
    return [snapshot.models[key] for key in keys if key in snapshot.models]


async def _first_success(
    entries: list[ModelEntry], chat: Work, attempts: list[dict], budget: CallBudget, later: int = 0
):
    """The first model of `entries` that answers, with its position; raises when none does. `later`
    models may be called after these, so each leaves them their share of the deadline."""
    error = None
    for position, entry in enumerate(entries):
        if _out_of_budget(budget, entry, attempts):
            break
        result, failure = await _call(entry, chat, attempts, budget, len(entries) - position + later)
        if result is not None:
            return position, entry, result
        if failure is not None and failure.request_fault:
            raise _rejected(entry, failure, attempts, budget)
        error = failure or error
    raise ExecutionFailed("every model in the chain failed or was unavailable", attempts, error, budget)


def _rejected(entry: ModelEntry, error: ProviderError, attempts: list[dict], budget) -> ExecutionFailed:
    """A provider refused the request itself: any other model would too, so the chain stops here."""
    return ExecutionFailed(f"{entry.key} rejected the request", attempts, error, budget)


async def execute(
    snapshot: RoutingSnapshot,
    decision: Decision,
    chat: Work,
    request: RouteRequest,
    budget: CallBudget,
) -> Execution:
    if decision.cascade is not None and isinstance(chat, ChatRequest):  # vectors are not judged
        return await _execute_cascade(snapshot, decision, chat, request, budget)
    attempts: list[dict] = []
    position, entry, result = await _first_success(
        _entries(snapshot, (decision.model, *decision.fallbacks)), chat, attempts, budget
    )
    return _execution(result, entry, attempts, fallbacks_used=position, escalations=0, spent=[result])


def _execution(result, entry, attempts, *, fallbacks_used: int, escalations: int, spent: list) -> Execution:
    return Execution(
        result=result,
        model=entry,
        attempts=tuple(attempts),
        fallbacks_used=fallbacks_used,
        escalations=escalations,
        total_cost=sum((r.cost for r in spent), Decimal(0)),
        total_input_tokens=sum(r.input_tokens for r in spent),
        total_output_tokens=sum(r.output_tokens for r in spent),
    )


@dataclass
class _Cascade:
    """One cascade's run. Every model of the chain but the last answers whole and is judged; the first
    answer judged good enough serves. Otherwise the last model serves unjudged (then the route's allowed
    fallbacks, should it fail), so a stream can pass it through as it arrives. Every answer is paid."""

    snapshot: RoutingSnapshot
    plan: CascadePlan
    chat: ChatRequest
    request: RouteRequest
    budget: CallBudget
    judged: list[ModelEntry]
    last: list[ModelEntry]
    attempts: list[dict] = field(default_factory=list)
    spent: list[CompletionResult] = field(default_factory=list)  # every answer and every judgement
    escalations: int = 0

    @classmethod
    def of(cls, snapshot, decision: Decision, chat: ChatRequest, request: RouteRequest, budget: CallBudget):
        chain = _entries(snapshot, decision.cascade.chain)
        allowed = _entries(snapshot, tuple(k for k in decision.fallbacks if k not in decision.cascade.chain))
        return cls(snapshot, decision.cascade, chat, request, budget, chain[:-1], chain[-1:] + allowed)

    async def accepted(self) -> Execution | None:
        """The first judged answer good enough to serve; None when the last model must answer."""
        start = 0
        while start < len(self.judged):
            try:
                position, entry, result = await _first_success(
                    self.judged[start:], self.chat, self.attempts, self.budget, later=len(self.last)
                )
            except ExecutionFailed as exc:
                if exc.request_fault:
                    raise
                return None
            start += position + 1
            if await self._good(result):
                return self.served(result, entry)
            self.escalations += 1
        return None

    async def _good(self, result: CompletionResult) -> bool:
        self.spent.append(result)
        confidence, judgement = await _confidence(
            self.snapshot, self.plan, self.chat, self.request, result, self.budget
        )
        self.spent.extend([judgement] if judgement is not None else [])
        kind = answer_kind(result.tool_calls, self.chat.response_format)
        self.attempts[-1].update(confidence=round(confidence, 3), judged_as=kind)
        return confidence >= self.plan.threshold

    def served(self, result: CompletionResult, entry: ModelEntry, *, fallbacks_used: int = 0) -> Execution:
        return _execution(
            result,
            entry,
            self.attempts,
            fallbacks_used=fallbacks_used,
            escalations=self.escalations,
            spent=self.spent,
        )

    def last_served(self, position: int, entry: ModelEntry, result: CompletionResult) -> Execution:
        """The last model answered (or, at `position` 1 and on, one of the route's allowed fallbacks)."""
        self.spent.append(result)
        return self.served(result, entry, fallbacks_used=position)


async def _execute_cascade(
    snapshot, decision: Decision, chat: ChatRequest, request: RouteRequest, budget: CallBudget
) -> Execution:
    cascade = _Cascade.of(snapshot, decision, chat, request, budget)
    if (accepted := await cascade.accepted()) is not None:
        return accepted
    return cascade.last_served(*await _first_success(cascade.last, chat, cascade.attempts, budget))


async def _stream_cascade(
    snapshot, decision: Decision, chat: ChatRequest, request: RouteRequest, budget: CallBudget
) -> AsyncIterator[StreamDelta | Execution]:
    """An accepted answer goes out whole the moment it is judged; the last model's stream passes through
    chunk by chunk as it arrives."""
    cascade = _Cascade.of(snapshot, decision, chat, request, budget)
    if (accepted := await cascade.accepted()) is not None:
        yield StreamDelta(text=accepted.result.text, tool_calls=accepted.result.tool_calls)
        yield accepted
        return
    async for event in _first_stream(cascade.last, chat, cascade.attempts, budget):
        if isinstance(event, StreamDelta):
            yield event
        else:
            yield cascade.last_served(event.position, event.entry, event.result)


JUDGE_PROMPT = (
    "Rate how well the answer below answers the question, from 1 (useless) to 10 (excellent). "
    "Reply with the number only.\n\nQuestion:\n{question}\n\nAnswer:\n{answer}"
)


async def _confidence(
    snapshot, plan, chat: ChatRequest, request: RouteRequest, result: CompletionResult, budget: CallBudget
) -> tuple[float, CompletionResult | None]:
    """The confidence in an answer, and the judge's paid reply when a judge gave it. A tool call or
    structured output is judged by whether it is valid, not by its wording."""
    structured = structured_confidence(result.text, result.tool_calls, chat.tools, chat.response_format)
    if structured is not None:
        return structured, None
    if plan.check != "judge" or plan.judge_model not in snapshot.models:
        return answer_confidence(result.text, request), None
    prompt = JUDGE_PROMPT.format(question=request.text[:4000], answer=result.text[:4000])
    try:
        budget.reserved = 0
        async with asyncio.timeout(_time_slice(budget, 2)):  # leave the escalation time to answer
            judgement = await classify_once(
                snapshot.models[plan.judge_model], ({"role": "user", "content": prompt},), budget
            )
    except (ProviderError, TimeoutError):
        return answer_confidence(result.text, request), None
    match = re.search(r"\b(10|[1-9])(?:\.\d+)?\b", judgement.text)
    return (int(match.group(1)) / 10 if match else answer_confidence(result.text, request)), judgement


async def classify_once(
    entry: ModelEntry, messages: tuple[dict, ...], budget: CallBudget | None = None
) -> CompletionResult:
    """One short call to a helper model (a router's classifier, a cascade's judge); it is paid too."""
    chat = ChatRequest(messages=messages, max_tokens=50, temperature=0.0)
    return await adapter_for(entry.provider_kind).acomplete(entry.target, chat, budget=budget)


async def execute_stream(
    snapshot: RoutingSnapshot,
    decision: Decision,
    chat: ChatRequest,
    request: RouteRequest,
    budget: CallBudget,
) -> AsyncIterator[StreamDelta | Execution]:
    """Stream from the first model that starts answering; fall back only before the first delta.

    The deadline bounds the time to the first delta; once a model streams, it may finish its answer.
    A cascade reads each answer it judges whole (see `_stream_cascade`).
    """
    if decision.cascade is not None:
        async for event in _stream_cascade(snapshot, decision, chat, request, budget):
            yield event
        return
    attempts: list[dict] = []
    async for event in _first_stream(
        _entries(snapshot, (decision.model, *decision.fallbacks)), chat, attempts, budget
    ):
        if isinstance(event, StreamDelta):
            yield event
        else:
            yield _execution(
                event.result,
                event.entry,
                attempts,
                fallbacks_used=event.position,
                escalations=0,
                spent=[event.result],
            )


@dataclass(frozen=True)
class _Streamed:
    """The end of a stream: which model of the chain answered, and its whole answer."""

    position: int
    entry: ModelEntry
    result: CompletionResult


async def _first_stream(
    entries: list[ModelEntry], chat: ChatRequest, attempts: list[dict], budget: CallBudget
) -> AsyncIterator[StreamDelta | _Streamed]:
    """The deltas of the first model of `entries` that starts answering, then its `_Streamed` end."""
    error = None
    for position, entry in enumerate(entries):
        if _out_of_budget(budget, entry, attempts):
            break
        if not await _admit(entry, chat, attempts):
            continue
        started, started_output = time.perf_counter(), False
        seconds = _time_slice(budget, len(entries) - position)
        budget.reserved = len(entries) - position - 1
        try:
            async with asyncio.timeout(seconds) as first_token:
                async for event in adapter_for(entry.provider_kind).astream(
                    entry.target, chat, budget=budget
                ):
                    if isinstance(event, StreamDelta):
                        first_token.reschedule(None)
                        started_output = True
                        yield event
                    else:
                        await _succeeded(entry, event, attempts)
                        yield _Streamed(position, entry, event)
                        return
        except (ProviderError, TimeoutError) as exc:
            exc = exc if isinstance(exc, ProviderError) else _slice_timeout(seconds)
            await _failed(entry, exc, started, attempts)
            if started_output:
                raise ExecutionFailed("the stream broke after it started", attempts, exc, budget) from exc
            if exc.request_fault:
                raise _rejected(entry, exc, attempts, budget) from exc
            error = exc
    raise ExecutionFailed("every model in the chain failed or was unavailable", attempts, error, budget)
