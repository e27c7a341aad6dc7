"""The simulator's ASGI app: OpenAI and Anthropic endpoints over simulated models, with fault injection.

Endpoints:
    GET  /v1/models               OpenAI model list
    POST /v1/chat/completions     OpenAI chat completions (streaming too)
    POST /v1/messages             Anthropic messages (streaming too)
    POST /v1/embeddings           OpenAI embeddings: deterministic vectors of the embedding models
    GET|POST|DELETE /_sim/faults  read, override or clear fault settings per model
    GET  /_sim/stats              per-model request, token and fault counts
    POST /_sim/reset              clear counters, seen-counts and fault overrides
    GET  /_sim/health             liveness

Request headers: `X-Sim-Difficulty: simple|moderate|complex` fixes the task difficulty and
`X-Sim-Fault: error|rate_limit|timeout|cut_stream` forces a fault. Every answer, token count and fault
draw comes from a generator seeded by (seed, model, messages, how often they were seen), so a run
replays exactly under the same seed, whatever the concurrency.
"""

from __future__ import annotations

import asyncio
import hmac
import math
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, cast

from devtools.serving import ServedApp, serve_in_thread
from devtools.simulator.answers import Answer, compose_answer, last_user_text, request_digest, seeded_rng
from devtools.simulator.anthropic_api import ANTHROPIC
from devtools.simulator.call import ChatCall, Dialect
from devtools.simulator.control import (
    FAULT_KINDS,
    FaultBoard,
    FaultSettings,
    Occurrences,
    Stats,
    parse_fault_update,
)
from devtools.simulator.embeddings_api import embeddings_payload
from devtools.simulator.openai_api import OPENAI
from devtools.simulator.profiles import (
    DEFAULT_PROFILES,
    DIFFICULTIES,
    Difficulty,
    ModelProfile,
    estimate_difficulty,
    profiles_by_name,
)
from devtools.simulator.wire import (
    DroppedConnection,
    Receive,
    RequestError,
    Scope,
    Send,
    StreamPart,
    header,
    parse_json_object,
    quiet_dropped_connections,
    read_body,
    send_body_part,
    send_json,
    send_json_then_drop,
    send_start,
    sleep_unless_disconnected,
)

DIFFICULTY_HEADER = "X-Sim-Difficulty"
FAULT_HEADER = "X-Sim-Fault"
OWNER = "routelab-simulator"
MODELS_CREATED = 1_700_000_000
CUT_AFTER_CONTENT_CHUNKS = 2
_ALIASES = {
    "/chat/completions": "/v1/chat/completions",
    "/models": "/v1/models",
    "/embeddings": "/v1/embeddings",
}

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


def _choice_header(scope: Scope, name: str, allowed: Iterable[str]) -> str | None:
    value = header(scope, name)
    if value is None:
        return None
    value = value.strip().lower()
    if value not in allowed:
        raise RequestError(f"Header '{name}' must be one of {sorted(allowed)}, got {value!r}.", param=name)
    return value


def request_difficulty(scope: Scope, call: ChatCall) -> Difficulty:
    forced = _choice_header(scope, DIFFICULTY_HEADER, DIFFICULTIES)
    return cast(Difficulty, forced) if forced else estimate_difficulty(last_user_text(call.messages))


def rate_limited(model: str, retry_after: float) -> RequestError:
    headers = [
        ("retry-after", str(math.ceil(retry_after))),
        ("retry-after-ms", str(round(retry_after * 1000))),
    ]
    message = f"Rate limit reached for {model} (simulated). Please try again in {retry_after:g}s."
    return RequestError(message, status=429, code="rate_limit_exceeded", headers=headers)


def model_entry(profile: ModelProfile) -> dict[str, Any]:
    details = {
        "display_name": profile.display_name,
        "tier": profile.tier,
        "input_price_per_mtok": str(profile.input_price_per_mtok),
        "output_price_per_mtok": str(profile.output_price_per_mtok),
        "context_window": profile.context_window,
        "max_output_tokens": profile.max_output_tokens,
        "vision": profile.vision,
        "tools": profile.tools,
        "json_mode": profile.json_mode,
    }
    return {
        "id": profile.name,
        "object": "model",
        "created": MODELS_CREATED,
        "owned_by": OWNER,
        "simulator": details,
    }


class SimulatorApp:
    """An ASGI app serving simulated models in the OpenAI and Anthropic wire formats."""

    def __init__(
        self,
        profiles: Iterable[ModelProfile] = DEFAULT_PROFILES,
        seed: int = 0,
        time_scale: float = 1.0,
        api_key: str | None = None,
    ) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be zero or positive")
        self.profiles = profiles_by_name(tuple(profiles))
        self.seed, self.time_scale, self.api_key = seed, time_scale, api_key
        self.faults = FaultBoard(self.profiles)
        self.stats = Stats(list(self.profiles))
        self.occurrences = Occurrences()
        self._routes = self._route_table()
        quiet_dropped_connections()

    def _route_table(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/v1/models"): self._list_models,
            ("POST", "/v1/chat/completions"): partial(self._chat, OPENAI),
            ("POST", "/v1/messages"): partial(self._chat, ANTHROPIC),
            ("POST", "/v1/embeddings"): self._embeddings,
            ("GET", "/_sim/faults"): self._get_faults,
            ("POST", "/_sim/faults"): self._set_faults,
            ("DELETE", "/_sim/faults"): self._clear_faults,
            ("GET", "/_sim/stats"): self._get_stats,
            ("POST", "/_sim/reset"): self._reset,
            ("GET", "/_sim/health"): self._health,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].rstrip("/") or "/"
        path = _ALIASES.get(path, path)
        dialect = ANTHROPIC if path == "/v1/messages" else OPENAI
        try:
            await self._route(scope["method"], path)(scope, receive, send)
        except RequestError as error:
            await send_json(send, error.status, dialect.error_payload(error), error.headers)

    def _route(self, method: str, path: str) -> Handler:
        if handler := self._routes.get((method, path)):
            return handler
        allowed = sorted(known_method for known_method, known_path in self._routes if known_path == path)
        if allowed:
            raise RequestError(
                f"Method {method} is not allowed on {path}.",
                status=405,
                headers=[("allow", ", ".join(allowed))],
            )
        raise RequestError(f"Unknown request URL: {method} {path}.", status=404, code="unknown_url")

    # --- the model endpoints -------------------------------------------------------------------------

    async def _list_models(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._authorize(OPENAI, scope)
        data = [model_entry(profile) for profile in self.profiles.values()]
        await send_json(send, 200, {"object": "list", "data": data})

    async def _chat(self, dialect: Dialect, scope: Scope, receive: Receive, send: Send) -> None:
        self._authorize(dialect, scope)
        call = dialect.parse(parse_json_object(await read_body(receive)), self.profiles)
        difficulty = request_difficulty(scope, call)
        forced_fault = _choice_header(scope, FAULT_HEADER, FAULT_KINDS)
        digest = request_digest(call.profile.name, call.messages)
        occurrence = self.occurrences.next(digest)
        self.stats.record_request(call.profile.name, call.prompt_tokens)
        settings = self.faults.settings(call.profile.name)
        fault = forced_fault or settings.draw(seeded_rng(self.seed, digest, occurrence, "fault"))
        if not await self._inject(dialect, call, fault, settings, receive):
            return
        rng = seeded_rng(self.seed, digest, occurrence, "answer")
        response_id = f"{rng.getrandbits(96):024x}"
        answer = compose_answer(
            call.profile, call.messages, difficulty, call.max_tokens, rng, call.json_output
        )
        self.stats.record_completion(call.profile.name, answer.completion_tokens)
        respond = self._stream if call.stream else self._respond
        await respond(dialect, call, answer, response_id, fault == "cut_stream", send)

    async def _embeddings(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._authorize(OPENAI, scope)
        payload = embeddings_payload(parse_json_object(await read_body(receive)), self.seed)
        await send_json(send, 200, payload)

    def _authorize(self, dialect: Dialect, scope: Scope) -> None:
        if self.api_key is None:
            return
        given = dialect.api_key(scope)
        if not given:
            raise RequestError("You didn't provide an API key.", status=401)
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise RequestError("Incorrect API key provided.", status=401)

    async def _inject(
        self, dialect: Dialect, call: ChatCall, fault: str | None, settings: FaultSettings, receive: Receive
    ) -> bool:
        """Apply a fault that replaces the answer; False when a timed-out client has already left."""
        if fault is None:
            return True
        self.stats.record_fault(call.profile.name, fault)
        if fault == "error":
            raise RequestError(dialect.injected_error_message, status=dialect.injected_error_status)
        if fault == "rate_limit":
            raise rate_limited(call.profile.name, settings.retry_after)
        if fault == "timeout":  # real seconds, deliberately not scaled: the client's timeout must fire
            return await sleep_unless_disconnected(receive, settings.timeout_seconds)
        return True

    async def _respond(
        self, dialect: Dialect, call: ChatCall, answer: Answer, response_id: str, cut: bool, send: Send
    ) -> None:
        await self._pause(answer.ttft_seconds + answer.generation_seconds)
        payload = dialect.response_payload(call, answer, response_id)
        if cut:
            await send_json_then_drop(send, payload)
        else:
            await send_json(send, 200, payload, [("x-request-id", response_id)])

    async def _stream(
        self, dialect: Dialect, call: ChatCall, answer: Answer, response_id: str, cut: bool, send: Send
    ) -> None:
        parts = dialect.stream_parts(call, answer, response_id)
        await self._pause(answer.ttft_seconds)
        headers = [("cache-control", "no-cache"), ("x-request-id", response_id)]
        await send_start(send, 200, "text/event-stream; charset=utf-8", headers)
        await self._send_parts(parts, answer.tokens_per_second, cut, send)

    async def _send_parts(
        self, parts: list[StreamPart], tokens_per_second: float, cut: bool, send: Send
    ) -> None:
        content_left = min(CUT_AFTER_CONTENT_CHUNKS, sum(part.tokens > 0 for part in parts)) if cut else -1
        for part in parts:
            await self._pause(part.tokens / tokens_per_second)
            await send_body_part(send, part.data)
            content_left -= part.tokens > 0
            if content_left == 0:
                raise DroppedConnection("cut_stream fault injected")
        await send_body_part(send, b"", last=True)

    async def _pause(self, seconds: float) -> None:
        if self.time_scale > 0 and seconds > 0:
            await asyncio.sleep(seconds * self.time_scale)

    # --- the control endpoints -----------------------------------------------------------------------

    async def _get_faults(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"faults": self.faults.snapshot()})

    async def _set_faults(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = parse_json_object(await read_body(receive))
        models, changes = parse_fault_update(body, list(self.profiles))
        self.faults.update(models, changes)
        await send_json(send, 200, {"faults": self.faults.snapshot()})

    async def _clear_faults(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.faults.clear()
        await send_json(send, 200, {"faults": self.faults.snapshot()})

    async def _get_stats(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, 200, self.stats.snapshot())

    async def _reset(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.reset()
        await send_json(send, 200, {"reset": True})

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"status": "ok", "models": list(self.profiles)})

    def reset(self) -> None:
        self.stats.reset()
        self.occurrences.reset()
        self.faults.clear()


RunningSimulator = ServedApp


def run_in_thread(
    host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 10.0, **app_kwargs: Any
) -> ServedApp:
    """Serve a new `SimulatorApp(**app_kwargs)` on `host:port` (0 picks a free port) until `.stop()`."""
    return serve_in_thread(
        SimulatorApp(**app_kwargs),
        host=host,
        port=port,
        name="routelab-simulator",
        startup_timeout=startup_timeout,
    )
