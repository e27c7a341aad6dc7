"""The adapter base: prices, Retry-After, error classification, the retry loop and the stream loop.

A minimal adapter with a made-up wire format keeps these tests about the base alone; the real formats
are tested in test_providers_openai.py and test_providers_anthropic.py.
"""

import asyncio
import email.utils
import json
import random
import time
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from routing.providers import ADAPTER_CLASSES, AnthropicAdapter, OpenAIAdapter, adapter_class
from routing.providers.base import (
    ChatRequest,
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
from tests.streams import stream_events

TARGET = ModelTarget(
    "echo", "https://echo.test", "echo-1", Price(Decimal("2.50"), Decimal("10")), api_key="k"
)
REQUEST = ChatRequest(messages=({"role": "user", "content": "Say hi"},))
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)


class EchoAdapter(ProviderAdapter):
    """Body {"text", "in", "out"}; a stream of `data: {"t": piece}` lines closed by `data: end`."""

    kind = "echo"

    def endpoint(self, target):
        return target.base_url + "/echo"

    def headers(self, target):
        return {"x-key": target.api_key, "x-client": "routelab"}

    def build_body(self, target, request, *, stream):
        return {"messages": list(request.messages), "stream": stream}

    def parse_response(self, target, payload):
        return ParsedCompletion(payload["text"], "stop", payload.get("in"), payload.get("out"), "")

    def new_stream_state(self, target):
        return {"text": [], "done": False}

    def parse_stream_event(self, state, event, data):
        if data == "end":
            state["done"] = True
            return None
        if data == "boom":
            raise ProviderError("overloaded mid-stream", kind="overloaded", retryable=True)
        state["text"].append(json.loads(data)["t"])
        return StreamDelta(text=state["text"][-1])

    def finish_stream(self, state):
        if not state["done"]:
            raise ProviderError("no end", kind="stream_cut", retryable=False)
        return ParsedCompletion("".join(state["text"]), "stop", 3, len(state["text"]), "")


class Script:
    """A mock provider answering each call with the next of `responses` (a Response or an exception)."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses[min(len(self.requests), len(self.responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer.stream, BrokenStream):
            return answer
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.read())


class BrokenStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that sends `chunks`, then the connection drops."""

    def __init__(self, *chunks: bytes):
        self.chunks = chunks

    def __iter__(self):
        yield from self.chunks
        raise httpx.RemoteProtocolError("peer closed connection")

    async def __aiter__(self):
        for chunk in self.chunks:
            yield chunk
        raise httpx.RemoteProtocolError("peer closed connection")


def echo(script: Script, retry: RetryPolicy = FAST) -> EchoAdapter:
    transport = httpx.MockTransport(script)
    return EchoAdapter(retry=retry, transport=transport, rng=random.Random(1))


def ok(text="hi", **usage) -> httpx.Response:
    return httpx.Response(200, json={"text": text, **usage})


def stream_body(*pieces: str, end=True) -> bytes:
    lines = [f"data: {json.dumps({'t': piece})}\n\n" for piece in pieces] + (["data: end\n\n"] if end else [])
    return "".join(lines).encode()


def collect(adapter: ProviderAdapter, received: list | None = None) -> list:
    return stream_events(adapter, TARGET, REQUEST, received)


# -- prices -----------------------------------------------------------------------------------------


def test_1000_input_and_500_output_tokens_at_2_50_and_10_dollars_per_mtok_cost_0_0075():
    assert Price(Decimal("2.50"), Decimal("10")).cost(1000, 500) == Decimal("0.0075")


def test_a_cost_is_rounded_half_up_to_a_hundred_millionth_of_a_dollar():
    assert Price(Decimal("0.001"), Decimal("0")).cost(5, 0) == Decimal("0.00000001")
    assert Price(Decimal("0.001"), Decimal("0")).cost(4, 0) == Decimal("0")


def test_a_completion_costs_its_reported_usage_at_the_target_price():
    result = echo(Script(ok(**{"in": 1000, "out": 500}))).complete(TARGET, REQUEST)
    assert (result.input_tokens, result.output_tokens, result.cost) == (1000, 500, Decimal("0.0075"))


def test_usage_a_provider_does_not_report_is_estimated_at_four_characters_a_token():
    result = echo(Script(ok(text="Hello there!!"))).complete(TARGET, REQUEST)
    assert (result.input_tokens, result.output_tokens) == (2, 4)  # ceil(6 / 4), ceil(13 / 4)


# -- Retry-After ------------------------------------------------------------------------------------


def test_retry_after_in_seconds_is_read_as_seconds():
    assert parse_retry_after(httpx.Headers({"Retry-After": "7"})) == 7.0


def test_retry_after_as_an_http_date_is_the_time_left_until_that_date():
    now = 1_750_000_000.0
    date = email.utils.format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": date}), now=now) == 30.0


@pytest.fixture
def local_zone_new_york(monkeypatch):
    """A local zone away from UTC, where a naive datetime would be misread."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("local_zone_new_york")
def test_an_http_date_with_an_unknown_zone_is_taken_as_utc():
    now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC).timestamp()
    headers = httpx.Headers({"Retry-After": "Sun, 01 Jun 2025 12:00:05 -0000"})
    assert parse_retry_after(headers, now=now) == 5.0


def test_retry_after_ms_wins_over_retry_after():
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "1500", "Retry-After": "9"})) == 1.5


def test_a_retry_after_date_in_the_past_means_no_wait():
    assert parse_retry_after(httpx.Headers({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0


def test_a_missing_or_unreadable_retry_after_gives_none():
    assert parse_retry_after(httpx.Headers({})) is None
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"})) is None


# -- classification ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, "bad_request", False),
        (401, "auth", False),
        (403, "auth", False),
        (404, "not_found", False),
        (429, "rate_limit", True),
        (500, "server_error", True),
        (503, "server_error", True),
        (529, "overloaded", True),
    ],
)
def test_each_error_status_is_classified_with_its_kind_and_whether_to_retry(status, kind, retryable):
    error = error_from_response(httpx.Response(status, text="nope"))
    assert (error.kind, error.retryable, error.status) == (kind, retryable, status)


def test_an_error_response_carries_its_retry_after():
    error = error_from_response(httpx.Response(429, headers={"Retry-After": "3"}), "slow down")
    assert (error.retry_after, error.message) == (3.0, "slow down")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.ConnectTimeout("connect timed out"), "timeout"),
        (httpx.ConnectError("connection refused"), "connection"),
        (httpx.RemoteProtocolError("server disconnected"), "connection"),
    ],
)
def test_timeouts_and_connection_errors_are_retryable(exc, kind):
    error = error_from_exception(exc)
    assert (error.kind, error.retryable) == (kind, True)


def test_a_provider_error_is_passed_through_and_anything_else_is_raised():
    error = ProviderError("x", kind="auth", retryable=False)
    assert error_from_exception(error) is error
    with pytest.raises(ZeroDivisionError):
        error_from_exception(ZeroDivisionError())


def test_timeouts_become_the_httpx_timeouts_of_the_clients():
    timeout = Timeouts(connect=1, read=2, write=3, pool=4).httpx()
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (1, 2, 3, 4)


# -- retry policy -----------------------------------------------------------------------------------


def test_backoff_is_full_jitter_below_the_doubling_cap():
    policy, rng = RetryPolicy(max_attempts=10, base_delay=0.25, max_delay=1.0), random.Random(0)
    error = ProviderError("busy", kind="server_error", retryable=True)
    delays = [[policy.delay(attempt, error, rng) for _ in range(200)] for attempt in (1, 2, 5)]
    assert [max(d) <= cap for d, cap in zip(delays, (0.25, 0.5, 1.0), strict=True)] == [True] * 3
    assert max(delays[2]) > 0.5


def test_a_retry_after_beyond_the_policy_limit_gives_up_instead_of_waiting():
    error = ProviderError("later", kind="rate_limit", retryable=True, retry_after=120)
    assert RetryPolicy(max_retry_after=30).delay(1, error, random.Random()) is None


# -- retry loop -------------------------------------------------------------------------------------


def test_a_429_with_retry_after_is_retried_after_that_delay(sleeps):
    script = Script(httpx.Response(429, headers={"Retry-After": "2"}), ok("done"))
    result = echo(script).complete(TARGET, REQUEST)
    assert (result.text, result.attempts, sleeps, len(script.requests)) == ("done", 2, [2.0], 2)


def test_a_400_is_not_retried(sleeps):
    script = Script(httpx.Response(400, text="bad"), ok())
    with pytest.raises(ProviderError) as raised:
        echo(script).complete(TARGET, REQUEST)
    assert (raised.value.kind, len(script.requests), sleeps) == ("bad_request", 1, [])


def test_the_loop_gives_up_after_max_attempts_with_the_last_error(sleeps):
    script = Script(httpx.Response(503, text="down"))
    with pytest.raises(ProviderError) as raised:
        echo(script).complete(TARGET, REQUEST)
    assert (raised.value.status, raised.value.retryable, len(script.requests)) == (503, True, 3)
    assert len(sleeps) == 2 and all(0 <= delay <= 0.02 for delay in sleeps)


def test_a_timeout_is_retried_and_the_next_attempt_can_succeed(sleeps):
    result = echo(Script(httpx.ReadTimeout("slow"), ok("late"))).complete(TARGET, REQUEST)
    assert (result.text, result.attempts, len(sleeps)) == ("late", 2, 1)


def test_connection_errors_on_every_attempt_end_in_a_retryable_connection_error(sleeps):
    script = Script(httpx.ConnectError("refused"))
    with pytest.raises(ProviderError) as raised:
        echo(script).complete(TARGET, REQUEST)
    assert (raised.value.kind, raised.value.retryable, len(script.requests)) == ("connection", True, 3)


def test_a_200_with_unreadable_json_is_an_invalid_response_not_retried(sleeps):
    script = Script(httpx.Response(200, text="<html>oops</html>"))
    with pytest.raises(ProviderError) as raised:
        echo(script).complete(TARGET, REQUEST)
    assert (raised.value.kind, raised.value.retryable, len(script.requests)) == ("invalid_response", False, 1)


def test_the_async_call_retries_a_429_after_its_retry_after(sleeps):
    script = Script(httpx.Response(429, headers={"retry-after-ms": "250"}), ok("async"))
    result = asyncio.run(echo(script).acomplete(TARGET, REQUEST))
    assert (result.text, result.attempts, sleeps) == ("async", 2, [0.25])


def test_a_sync_call_uses_a_client_of_its_own_only_for_its_own_adapter():
    inner_script = Script(ok("inner"))
    inner = echo(inner_script)
    inner_texts: list[str] = []

    async def outer_answer(request: httpx.Request) -> httpx.Response:
        # Another adapter called while the outer sync call runs goes through its own transport.
        inner_texts.append((await inner.acomplete(TARGET, REQUEST)).text)
        return ok("outer")

    outer = EchoAdapter(retry=FAST, transport=httpx.MockTransport(outer_answer))
    assert outer.complete(TARGET, REQUEST).text == "outer"
    assert (inner_texts, len(inner_script.requests)) == (["inner"], 1)


def test_request_extra_headers_are_sent_over_the_adapter_headers():
    script = Script(ok())
    request = ChatRequest(messages=REQUEST.messages, extra_headers={"x-client": "app", "x-trace": "t1"})
    echo(script).complete(TARGET, request)
    sent = script.requests[0]
    assert (sent.url, sent.headers["x-key"], sent.headers["x-client"], sent.headers["x-trace"]) == (
        "https://echo.test/echo",
        "k",
        "app",
        "t1",
    )
    assert json.loads(sent.content) == {"messages": [{"role": "user", "content": "Say hi"}], "stream": False}


# -- stream loop ------------------------------------------------------------------------------------


def test_a_stream_yields_its_deltas_then_the_result():
    items = collect(echo(Script(httpx.Response(200, content=stream_body("He", "llo")))))
    assert [item.text for item in items[:-1]] == ["He", "llo"]
    assert (items[-1].text, items[-1].output_tokens, items[-1].ttft_ms <= items[-1].latency_ms) == (
        "Hello",
        2,
        True,
    )


def test_a_stream_that_fails_before_any_output_is_retried(sleeps):
    script = Script(httpx.Response(503), httpx.Response(200, content=stream_body("ok")))
    items = collect(echo(script))
    assert (items[-1].text, items[-1].attempts, len(sleeps)) == ("ok", 2, 1)


def test_a_retryable_error_after_output_was_streamed_is_raised_not_retried(sleeps):
    script = Script(httpx.Response(200, content=b'data: {"t": "par"}\n\ndata: boom\n\n'), ok())
    received = []
    with pytest.raises(ProviderError) as raised:
        collect(echo(script), received)
    assert received == [StreamDelta(text="par")]
    assert (raised.value.kind, len(script.requests), sleeps) == ("overloaded", 1, [])


def test_a_connection_dropped_mid_stream_is_a_stream_cut_not_retried(sleeps):
    script = Script(httpx.Response(200, stream=BrokenStream(b'data: {"t": "a"}\n\n')))
    with pytest.raises(ProviderError) as raised:
        collect(echo(script))
    assert (raised.value.kind, raised.value.retryable, len(script.requests)) == ("stream_cut", False, 1)


def test_an_async_stream_is_retried_before_output_and_yields_the_same_as_sync(sleeps):
    script = Script(
        httpx.Response(429, headers={"Retry-After": "1"}), httpx.Response(200, content=stream_body("a", "b"))
    )
    items = collect(echo(script))
    assert ([item.text for item in items], items[-1].attempts, sleeps) == (["a", "b", "ab"], 2, [1.0])


def test_an_unreadable_stream_event_is_an_invalid_response():
    with pytest.raises(ProviderError) as raised:
        collect(echo(Script(httpx.Response(200, content=b"data: {not json\n\n"))))
    assert (raised.value.kind, raised.value.retryable) == ("invalid_response", False)


# -- registry ---------------------------------------------------------------------------------------


def test_the_registry_maps_each_wire_format_kind_to_its_adapter():
    kinds = ("openai", "openai_compatible", "simulator", "anthropic")
    assert [adapter_class(kind) for kind in kinds] == [OpenAIAdapter] * 3 + [AnthropicAdapter]
    assert all(ADAPTER_CLASSES[kind] is adapter_class(kind) for kind in kinds)


def test_an_unknown_provider_kind_is_a_key_error_naming_the_known_kinds():
    with pytest.raises(KeyError, match="unknown provider kind 'gemini'.*anthropic, openai"):
        adapter_class("gemini")
