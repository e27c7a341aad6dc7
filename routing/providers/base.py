"""The provider adapter base: one request and result type, timeouts, retries and error classification.

Adapters are pure of Django: they take a `ModelTarget` (where to call, which model, its price) and a
`ChatRequest`, and return a `CompletionResult`. Each provider module subclasses `ProviderAdapter` and
implements only the wire format (`build_body`, `parse_response`, `parse_stream`); this class owns the
HTTP clients (pooled, one per event loop), the timeouts, the retry loop and the error classification.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

import httpx
from asgiref.sync import async_to_sync

from routing.providers.transport import AiohttpTransport, JsonAnswer, PooledClient

MILLION = Decimal(1_000_000)
COST_QUANTUM = Decimal("0.00000001")
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})
# The request's own fault: the same request fails on any model, so it goes back to the client as it is,
# never trips a breaker and never falls back (401, 403 and 404 are the provider's configuration instead).
REQUEST_FAULT_STATUSES = frozenset({400, 413, 422})
# The adapter and HTTP client of one sync-wrapped call (`ProviderAdapter.complete`): that adapter uses the
# client in place of its loop's pooled one; any other adapter called meanwhile keeps its own.
_call_client: ContextVar[tuple[ProviderAdapter, httpx.AsyncClient] | None] = ContextVar(
    "routelab_call_client", default=None
)


@dataclass(frozen=True)
class Price:
    """List price in US dollars per million input and output tokens."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        raw = (
            Decimal(input_tokens) * self.input_per_mtok + Decimal(output_tokens) * self.output_per_mtok
        ) / MILLION
        return raw.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ModelTarget:
    """Everything an adapter needs to call one model of one provider."""

    provider_kind: str
    base_url: str
    model_id: str
    price: Price
    api_key: str = ""
    max_output_tokens: int = 4096
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ChatRequest:
    """An OpenAI-style chat request, the lingua franca between routelab and every adapter."""

    messages: tuple[dict[str, Any], ...]
    temperature: float | None = None
    max_tokens: int | None = None
    tools: tuple[dict[str, Any], ...] | None = None
    tool_choice: Any = None
    stop: tuple[str, ...] | None = None
    user: str | None = None
    response_format: dict[str, Any] | None = None
    extra_headers: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # OpenAI's other parameters as the client sent them (seed, top_p, penalties, logit_bias, logprobs,
    # parallel_tool_calls, reasoning_effort, service_tier, store, ...): each adapter sends them,
    # translates them, or refuses the request naming the one its provider cannot honour
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class EmbeddingRequest:
    """An OpenAI-style embeddings request: the texts, in order, and the vectors' length when asked."""

    inputs: tuple[str, ...]
    dimensions: int | None = None
    user: str | None = None

    @property
    def chars(self) -> int:
        return sum(len(text) for text in self.inputs)


@dataclass(frozen=True)
class CompletionResult:
    text: str
    finish_reason: str
    input_tokens: int
    output_tokens: int
    cost: Decimal
    latency_ms: float
    model: str
    ttft_ms: float | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()
    attempts: int = 1
    # A quality the provider itself knows (the simulator's latent quality, a replayed recorded label).
    quality: float | None = None
    logprobs: dict[str, Any] | None = None  # the choice's logprobs, as OpenAI gives them, when asked
    embeddings: tuple[tuple[float, ...], ...] = ()  # an embeddings call's vectors, one per input


@dataclass(frozen=True)
class StreamDelta:
    text: str = ""
    tool_calls: tuple[dict[str, Any], ...] = ()
    logprobs: dict[str, Any] | None = None  # this chunk's logprobs, when asked


@dataclass(frozen=True)
class ParsedCompletion:
    """What a wire-format parser extracts; the base adds cost, latency and attempts.

    A token count is None when the provider did not report it (some OpenAI-compatible servers send no
    usage); the base then estimates it from the characters with `estimate_tokens`.
    """

    text: str
    finish_reason: str
    input_tokens: int | None
    output_tokens: int | None
    model: str
    tool_calls: tuple[dict[str, Any], ...] = ()
    quality: float | None = None
    logprobs: dict[str, Any] | None = None


@dataclass(frozen=True)
class ParsedEmbeddings:
    """What an embeddings parser extracts: the vectors in input order, and the tokens if reported."""

    vectors: tuple[tuple[float, ...], ...]
    input_tokens: int | None
    model: str


def _embedded(target, request: EmbeddingRequest, parsed: ParsedEmbeddings, latency_ms: float):
    if len(parsed.vectors) != len(request.inputs):
        raise _unreadable("embeddings response", ValueError(f"{len(parsed.vectors)} vectors"))
    tokens = parsed.input_tokens
    tokens = estimate_tokens(request.chars) if tokens is None else tokens
    return CompletionResult(
        text="",
        finish_reason="stop",
        input_tokens=tokens,
        output_tokens=0,
        cost=target.price.cost(tokens, 0),
        latency_ms=latency_ms,
        ttft_ms=latency_ms,
        model=parsed.model or target.model_id,
        embeddings=parsed.vectors,
    )


class ProviderError(Exception):
    """A failed provider call, classified so that resilience code knows whether to retry."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "error",
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after

    @property
    def request_fault(self) -> bool:
        """Whether the provider refused the request itself (a 400, 413 or 422), not failed to serve it."""
        return self.status in REQUEST_FAULT_STATUSES

    def __repr__(self) -> str:
        details = f"status={self.status}, retryable={self.retryable}"
        return f"ProviderError({self.kind!r}, {details}, {self.message!r})"


@dataclass(frozen=True)
class Timeouts:
    connect: float = 5.0
    read: float = 60.0
    write: float = 10.0
    pool: float = 5.0

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter; a server's Retry-After wins when it is given and bounded."""

    max_attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, error: ProviderError, rng: random.Random) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None when no retry should follow."""
        if not error.retryable or attempt >= self.max_attempts:
            return None
        if error.retry_after is not None:
            return None if error.retry_after > self.max_retry_after else max(error.retry_after, 0.0)
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass
class CallBudget:
    """What one client request may still spend on providers: `attempts` requests in all (retries,
    fallbacks, escalations and a cascade's judge together) before `deadline` (a `time.monotonic()`).

    `reserved` is the attempts kept for the models after the current one, so a model's retries never
    take the first attempt of a fallback.
    """

    attempts: int
    deadline: float | None = None
    reserved: int = 0

    def take(self, *, retry: bool = False) -> bool:
        if self.attempts <= (self.reserved if retry else 0):
            return False
        self.attempts -= 1
        return True

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def allows_wait(self, seconds: float) -> bool:
        left = self.seconds_left()
        return left is None or seconds < left


def budget_exhausted() -> ProviderError:
    return ProviderError(
        "the request's provider attempts are used up", kind="budget_exhausted", retryable=False
    )


class RetryShare:
    """Retries as a bounded share of each provider's traffic, in this process (Finagle's retry budget):
    every first attempt adds `ratio` to the provider's balance, a retry takes 1, and the balance also
    refills at `floor_per_second` up to `cap`. A failing provider then sees at most about (1 + ratio)
    times its traffic instead of `max_attempts` times it, however many clients retry."""

    def __init__(
        self, ratio: float = 0.2, floor_per_second: float = 0.5, cap: float = 10.0, clock=time.monotonic
    ):
        self.ratio, self.floor_per_second, self.cap, self.clock = ratio, floor_per_second, cap, clock
        self._balances: dict[str, tuple[float, float]] = {}

    def _balance(self, key: str) -> float:
        now = self.clock()
        balance, at = self._balances.get(key, (self.cap, now))
        return min(self.cap, balance + (now - at) * self.floor_per_second)

    def reset(self) -> None:
        self._balances.clear()

    def requested(self, key: str) -> None:
        self._balances[key] = (min(self.cap, self._balance(key) + self.ratio), self.clock())

    def retry_allowed(self, key: str) -> bool:
        balance = self._balance(key)
        if balance < 1:
            self._balances[key] = (balance, self.clock())
            return False
        self._balances[key] = (balance - 1, self.clock())
        return True


def parse_retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    if value := headers.get("retry-after-ms"):
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are always UTC
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def error_from_response(response: httpx.Response, message: str | None = None) -> ProviderError:
    status = response.status_code
    kind = {
        400: "bad_request",
        401: "auth",
        403: "auth",
        404: "not_found",
        408: "timeout",
        413: "bad_request",
        422: "bad_request",
        429: "rate_limit",
        529: "overloaded",
    }.get(status, "server_error" if status >= 500 else "bad_request")
    return ProviderError(
        message or f"HTTP {status}",
        kind=kind,
        retryable=status in RETRYABLE_STATUSES,
        status=status,
        retry_after=parse_retry_after(response.headers),
    )


def error_from_exception(exc: Exception) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(f"timed out: {type(exc).__name__}", kind="timeout", retryable=True)
    if isinstance(exc, httpx.RemoteProtocolError):
        return ProviderError(f"connection broken: {exc}", kind="connection", retryable=True)
    if isinstance(exc, httpx.TransportError):
        return ProviderError(f"connection failed: {exc}", kind="connection", retryable=True)
    raise exc


async def retry_wait(seconds: float) -> None:
    """The wait before a retry. Tests replace this function, never asyncio.sleep itself: another thread's
    event loop sleeping meanwhile must still sleep."""
    await asyncio.sleep(seconds)


def estimate_tokens(chars: int) -> int:
    """The usual rule of thumb for English text: a token is about four characters."""
    return math.ceil(chars / 4)


def message_chars(messages: tuple[dict[str, Any], ...]) -> int:
    """Characters of the text in OpenAI-style messages: string content, text parts, tool call arguments."""
    return sum(
        len(content_text(m.get("content"))) + tool_call_chars(m.get("tool_calls") or ()) for m in messages
    )


def tool_call_chars(tool_calls: Any) -> int:
    return sum(len(str((call.get("function") or {}).get("arguments") or "")) for call in tool_calls)


def content_text(content: Any, joiner: str = "") -> str:
    """The text of one OpenAI-style message content: the string itself, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return joiner.join(part.get("text") or "" for part in content if isinstance(part, dict))
    return ""


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or {} when it is not one (an HTML error page, say)."""
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _unreadable(what: str, exc: Exception) -> ProviderError:
    return ProviderError(f"unreadable {what}: {exc!r}", kind="invalid_response", retryable=False)


class ProviderAdapter:
    """Base of every provider adapter. Subclasses set `kind` and implement the wire format."""

    kind: ClassVar[str] = ""
    serves_embeddings: ClassVar[bool] = False

    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits | None = None,
        rng: random.Random | None = None,
        retry_share: RetryShare | None = None,
    ):
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self.retry_share = retry_share or RetryShare()
        self._rng = rng or random.Random()
        limits = limits or httpx.Limits(max_connections=200, max_keepalive_connections=50)
        self._transport = transport
        self._limits = limits
        self._aclients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    # -- wire format: subclasses implement these -------------------------------------------------

    def endpoint(self, target: ModelTarget) -> str:
        raise NotImplementedError

    def headers(self, target: ModelTarget) -> dict[str, str]:
        raise NotImplementedError

    def build_body(self, target: ModelTarget, request: ChatRequest, *, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def parse_response(self, target: ModelTarget, payload: dict[str, Any]) -> ParsedCompletion:
        raise NotImplementedError

    def error_message(self, response: httpx.Response) -> str:
        return f"HTTP {response.status_code}: {response.text[:500]}"

    def embeddings_endpoint(self, target: ModelTarget) -> str:
        raise ProviderError(f"{self.kind} providers serve no embeddings", kind="bad_request", status=400)

    def build_embeddings_body(self, target: ModelTarget, request: EmbeddingRequest) -> dict[str, Any]:
        raise NotImplementedError

    def parse_embeddings(self, target: ModelTarget, payload: dict[str, Any]) -> ParsedEmbeddings:
        raise NotImplementedError

    def new_stream_state(self, target: ModelTarget) -> Any:
        raise NotImplementedError

    def parse_stream_event(self, state: Any, event: str | None, data: str) -> StreamDelta | None:
        """Fold one server-sent event into `state`; return a delta to pass on, if any."""
        raise NotImplementedError

    def finish_stream(self, state: Any) -> ParsedCompletion:
        raise NotImplementedError

    # -- calls: an async core, and `complete` its sync wrapper ------------------------------------------

    async def acomplete(
        self, target: ModelTarget, request: ChatRequest, *, budget: CallBudget | None = None
    ) -> CompletionResult:
        """One answer, retried with backoff while the error is retryable and `budget` (the client
        request's attempts and deadline) and the provider's retry share allow."""
        return await self._retried(target, budget, lambda: self._complete_once(target, request))

    async def aembed(
        self, target: ModelTarget, request: EmbeddingRequest, *, budget: CallBudget | None = None
    ) -> CompletionResult:
        """The vectors of `request`'s texts (in `CompletionResult.embeddings`), retried as `acomplete` is."""
        return await self._retried(target, budget, lambda: self._embed_once(target, request))

    async def _retried(self, target: ModelTarget, budget: CallBudget | None, once) -> CompletionResult:
        attempt, error = 0, None
        while True:
            attempt += 1
            self._admit_attempt(target, attempt, budget, error)
            try:
                return replace(await once(), attempts=attempt)
            except (ProviderError, httpx.TransportError) as exc:
                error = error_from_exception(exc)
                delay = self.retry.delay(attempt, error, self._rng)
                if delay is None or (budget is not None and not budget.allows_wait(delay)):
                    raise error from exc
                await retry_wait(delay)

    def _admit_attempt(self, target, attempt: int, budget: CallBudget | None, error) -> None:
        """Count an attempt against the request's budget and the provider's retry share, or raise: the
        last error for a retry refused, a `budget_exhausted` error for a first attempt refused."""
        retry = attempt > 1
        if budget is not None and not budget.take(retry=retry):
            raise error or budget_exhausted()
        if not retry:
            self.retry_share.requested(target.base_url)
        elif not self.retry_share.retry_allowed(target.base_url):
            raise error

    async def astream(
        self, target: ModelTarget, request: ChatRequest, *, budget: CallBudget | None = None
    ) -> AsyncIterator[StreamDelta | CompletionResult]:
        """Yield deltas, then one CompletionResult. Retries only while no delta has reached the caller."""
        started = time.perf_counter()
        attempt, emitted, error = 0, False, None
        while True:
            attempt += 1
            self._admit_attempt(target, attempt, budget, error)
            try:
                async with self._aclient.stream("POST", **self._request_kwargs(target, request)) as response:
                    if response.status_code >= 400:
                        await response.aread()
                        raise error_from_response(response, self.error_message(response))
                    lines = response.aiter_lines()
                    async for item in self._consume_stream(target, request, lines, started, attempt):
                        emitted = True
                        yield item
                    return
            except (ProviderError, httpx.TransportError) as exc:
                error = error_from_exception(exc)
                delay = self._stream_retry_delay(attempt, error, emitted)
                if delay is None or (budget is not None and not budget.allows_wait(delay)):
                    raise error from exc
                await retry_wait(delay)

    def complete(self, target: ModelTarget, request: ChatRequest) -> CompletionResult:
        """`acomplete` for a caller outside an event loop (the judge in a worker, a management command).

        asgiref's async_to_sync runs the core on an event loop and still runs a thread-sensitive lookup in
        the caller's thread, with its database connection. The call has an HTTP client of its own, closed
        when it ends, so it never touches (or closes) the pooled client of a loop that serves requests."""
        return async_to_sync(self._acomplete_alone)(target, request)

    async def aclose(self) -> None:
        client = self._aclients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()

    @property
    def _aclient(self) -> httpx.AsyncClient:
        """One pooled async client per event loop: pooled connections belong to the loop that opened them."""
        if (own := _call_client.get()) is not None and own[0] is self:
            return own[1]
        loop = asyncio.get_running_loop()
        client = self._aclients.get(loop)
        if client is None:
            client = self._aclients[loop] = self._new_aclient()
        return client

    def _new_aclient(self) -> httpx.AsyncClient:
        timeout, limits = self.timeouts.httpx(), self._limits
        if self._transport is not None:  # a test's, or a caller's own
            return httpx.AsyncClient(timeout=timeout, transport=self._transport, limits=limits)
        return PooledClient(timeout=timeout, transport=AiohttpTransport(limits), limits=limits)

    async def _post_json(
        self, url: str, headers: dict[str, str], json: dict[str, Any]
    ) -> httpx.Response | JsonAnswer:
        client = self._aclient
        if isinstance(client, PooledClient):
            return await client.post_json(url, headers=headers, json=json)
        return await client.post(url, headers=headers, json=json)

    async def _acomplete_alone(self, target: ModelTarget, request: ChatRequest) -> CompletionResult:
        async with self._new_aclient() as client:
            token = _call_client.set((self, client))
            try:
                return await self.acomplete(target, request)
            finally:
                _call_client.reset(token)

    # -- internals ----------------------------------------------------------------------------------

    def _headers(self, target: ModelTarget, request: ChatRequest) -> dict[str, str]:
        return {**self.headers(target), **request.extra_headers}

    def _request_kwargs(self, target: ModelTarget, request: ChatRequest, *, stream: bool = True) -> dict:
        return {
            "url": self.endpoint(target),
            "headers": self._headers(target, request),
            "json": self.build_body(target, request, stream=stream),
        }

    async def _complete_once(self, target: ModelTarget, request: ChatRequest) -> CompletionResult:
        started = time.perf_counter()
        response = await self._post_json(**self._request_kwargs(target, request, stream=False))
        return self._result_from_response(target, request, response, started)

    async def _embed_once(self, target: ModelTarget, request: EmbeddingRequest) -> CompletionResult:
        started = time.perf_counter()
        url = self.embeddings_endpoint(target)
        body = self.build_embeddings_body(target, request)
        response = await self._post_json(url, self.headers(target), body)
        parsed = self._parsed(
            response, lambda data: self.parse_embeddings(target, data), "embeddings response"
        )
        return _embedded(target, request, parsed, (time.perf_counter() - started) * 1000)

    def _parsed(self, response: httpx.Response | JsonAnswer, parse: Callable[[Any], Any], what: str):
        """`parse` of a provider's JSON answer: an error status as the provider's error, a body that does
        not read as `what` as an unreadable answer."""
        if response.status_code >= 400:
            raise error_from_response(response, self.error_message(response))
        try:
            return parse(response.json())
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise _unreadable(what, exc) from exc

    def _result_from_response(self, target, request, response: httpx.Response | JsonAnswer, started: float):
        parsed = self._parsed(response, lambda data: self.parse_response(target, data), "response")
        latency = (time.perf_counter() - started) * 1000
        return self._finish(target, request, parsed, latency_ms=latency, ttft_ms=latency)

    def _finish(self, target, request, parsed: ParsedCompletion, *, latency_ms, ttft_ms, attempts=1):
        input_tokens, output_tokens = self._usage(request, parsed)
        return CompletionResult(
            text=parsed.text,
            finish_reason=parsed.finish_reason,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost=target.price.cost(input_tokens, output_tokens),
            latency_ms=latency_ms,
            ttft_ms=ttft_ms,
            model=parsed.model or target.model_id,
            tool_calls=parsed.tool_calls,
            attempts=attempts,
            quality=parsed.quality,
            logprobs=parsed.logprobs,
        )

    def _usage(self, request: ChatRequest, parsed: ParsedCompletion) -> tuple[int, int]:
        input_tokens, output_tokens = parsed.input_tokens, parsed.output_tokens
        if input_tokens is None:
            input_tokens = estimate_tokens(message_chars(request.messages))
        if output_tokens is None:
            output_tokens = estimate_tokens(len(parsed.text) + tool_call_chars(parsed.tool_calls))
        return input_tokens, output_tokens

    def _fold_line(self, state: Any, event: str | None, line: str) -> tuple[str | None, StreamDelta | None]:
        """Server-sent events: `event:` names the next `data:` line; a blank line ends an event."""
        if line.startswith("event:"):
            return line[6:].strip(), None
        if not line.startswith("data:"):
            return (None if not line.strip() else event), None
        try:
            return None, self.parse_stream_event(state, event, line[5:].strip())
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
            raise _unreadable("stream event", exc) from exc

    async def _consume_stream(self, target, request, lines, started: float, attempt: int):
        state, first, event = self.new_stream_state(target), None, None
        try:
            async for line in lines:
                event, delta = self._fold_line(state, event, line)
                if delta is not None:
                    first = first or time.perf_counter()
                    yield delta
        except httpx.TransportError as exc:
            raise self._stream_cut(exc) from exc
        yield self._stream_result(target, request, state, started, first, attempt)

    def _stream_retry_delay(self, attempt: int, error: ProviderError, emitted: bool) -> float | None:
        # Once the caller holds part of the answer a retry would repeat it: the error goes up instead.
        if emitted or error.kind == "stream_cut":
            return None
        return self.retry.delay(attempt, error, self._rng)

    def _stream_cut(self, exc: Exception) -> ProviderError:
        return ProviderError(f"stream cut short: {exc}", kind="stream_cut", retryable=False)

    def _stream_result(self, target, request, state, started: float, first: float | None, attempt: int):
        parsed = self.finish_stream(state)
        now = time.perf_counter()
        ttft = ((first or now) - started) * 1000
        return self._finish(
            target, request, parsed, latency_ms=(now - started) * 1000, ttft_ms=ttft, attempts=attempt
        )
