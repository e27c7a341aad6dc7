"""POST /v1/chat/completions: the OpenAI-compatible gateway, async end to end.

An application changes only its base URL: routelab authenticates its key, routes the request, calls the
chosen model (falling back and escalating as the policy says), answers in OpenAI's format (streamed when
asked) and records one call row. Response headers name the model, policy version and decision id.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from drf_spectacular.utils import OpenApiResponse

from routing.gateway import wire
from routing.gateway.assign import exposure_fields
from routing.gateway.body import parse_chat_body
from routing.gateway.decide import Routed, route_decided, route_request_from_chat
from routing.gateway.endpoint import ErrorSerializer, key_endpoint, openai_error
from routing.gateway.errors import GatewayError
from routing.gateway.execute import Execution, ExecutionFailed, call_budget, execute, execute_stream
from routing.gateway.record import CallDraft, new_call_id, now_iso
from routing.gateway.wire import chat_request_from
from routing.policies.types import RouteRequest
from routing.providers.base import ChatRequest, EmbeddingRequest, StreamDelta


def _headers(draft: CallDraft, routed: Routed, model_key: str | None = None) -> dict[str, str]:
    headers = {
        "x-routelab-decision-id": draft.id,
        "x-routelab-route": routed.route.name,
        "x-routelab-policy-version": routed.policy.label,
        "x-routelab-decided-model": routed.decision.model,
    }
    if model_key:
        headers["x-routelab-model"] = model_key
    if exposure := routed.exposure:
        headers["x-routelab-experiment"] = exposure.experiment
        headers["x-routelab-variant"] = exposure.variant
        headers["x-routelab-phase"] = str(exposure.phase)
    return headers


@key_endpoint(
    "POST",
    request=wire.ChatInputSerializer,
    responses={
        200: OpenApiResponse(
            wire.ChatCompletionSerializer,
            description="The answer; with `stream: true`, `text/event-stream` chunks ending `data: [DONE]`",
        ),
        429: OpenApiResponse(ErrorSerializer, description="Every model was rate-limited"),
        502: OpenApiResponse(ErrorSerializer, description="Every model failed"),
        503: OpenApiResponse(ErrorSerializer, description="No model could be tried"),
    },
)
async def chat_completions(request: HttpRequest, *, key, snapshot) -> HttpResponse:
    """OpenAI's chat completions: routed by the key's route, answered (or streamed) in OpenAI's format."""
    return await serve_chat(parse_chat_body(request), key=key, snapshot=snapshot, dialect=OPENAI)


@dataclass(frozen=True)
class Dialect:
    """How an endpoint writes what the one request path produced: a whole answer, a stream, an error."""

    answer: Callable[[CallDraft, Execution], dict]
    stream: Callable[[CallDraft, AsyncIterator, dict], AsyncIterator[bytes]]  # deltas, then the Execution
    stream_error: Callable[[str], bytes]  # the end of a stream that broke after its first byte
    error: Callable[..., JsonResponse]


async def serve_chat(data: dict, *, key, snapshot, dialect: Dialect) -> HttpResponse:
    """Steps 2 to 6 for a validated chat body (OpenAI's shape), answered in `dialect`'s wire format."""
    chat = chat_request_from(data)
    route_request = route_request_from_chat(chat, dict(data.get("metadata") or {}))
    return await serve(data, chat, route_request, key=key, snapshot=snapshot, dialect=dialect)


async def serve(
    data: dict,
    chat: ChatRequest | EmbeddingRequest,
    route_request: RouteRequest,
    *,
    key,
    snapshot,
    dialect: Dialect,
) -> HttpResponse:
    """Steps 2 to 6 for what a provider is asked (`chat`) and what the engine routes (`route_request`);
    `data` is the validated body, for its route (`model`), `user`, `metadata` and `stream`."""
    draft = CallDraft(id=new_call_id(), source="proxy", started_at=now_iso(), stream=data["stream"])
    draft.metadata = dict(data.get("metadata") or {})
    routed = await route_decided(snapshot=snapshot, key=key, data=data, request=route_request)
    draft.routed = routed
    draft.prompt = route_request.text
    budget = call_budget(routed.route)
    if data["stream"]:
        events = execute_stream(routed.snapshot, routed.decision, chat, route_request, budget)
        try:
            first = await _until_failed_or_cancelled(draft, anext(events))
        except ExecutionFailed as exc:  # before the first byte: a real status, not a 200 and an error event
            return _failure_response(exc, _headers(draft, routed), dialect)
        sse = _recorded_stream(draft, _prepend(first, events), dialect, data)
        response = StreamingHttpResponse(sse, content_type="text/event-stream")
        for name, value in _headers(draft, routed).items():
            response[name] = value
        response["Cache-Control"] = "no-cache"
        return response
    try:
        execution = await _until_failed_or_cancelled(
            draft, execute(routed.snapshot, routed.decision, chat, route_request, budget)
        )
    except ExecutionFailed as exc:
        return _failure_response(exc, _headers(draft, routed), dialect)
    await draft.finish_ok(execution)
    return JsonResponse(
        dialect.answer(draft, execution), headers=_headers(draft, routed, execution.model.key)
    )


async def _until_failed_or_cancelled(draft: CallDraft, awaitable):
    """`awaitable`'s result; the call is recorded when it fails or the client hangs up meanwhile."""
    try:
        return await awaitable
    except ExecutionFailed as exc:
        await draft.finish_failed(exc, exc.kind, str(exc))
        raise
    except asyncio.CancelledError:  # Django cancels the view when the client disconnects
        await draft.finish_disconnected()
        raise


async def _prepend(first, events: AsyncIterator) -> AsyncIterator:
    yield first
    async for event in events:
        yield event


async def _recorded_stream(draft: CallDraft, events: AsyncIterator, dialect: Dialect, data: dict):
    """`dialect`'s bytes for `events`, the call recorded once, whatever ends the stream: its answer, a
    failure after the first byte, or the client hanging up (cancelled, or closed at a yield)."""

    async def recording() -> AsyncIterator:
        async for event in events:
            if not isinstance(event, StreamDelta):
                await draft.finish_ok(event)
            yield event

    try:
        async for chunk in dialect.stream(draft, recording(), data):
            yield chunk
    except ExecutionFailed as exc:
        await draft.finish_failed(exc, exc.kind, str(exc))
        yield dialect.stream_error(str(exc))
    except (asyncio.CancelledError, GeneratorExit):
        await draft.finish_disconnected()
        raise


def _failure_response(exc: ExecutionFailed, headers: dict, dialect: Dialect) -> JsonResponse:
    """The provider's own 4xx with its message when it refused the request itself; else 504 past the
    deadline, 429 when every model was rate-limited, 503 when none could be tried, else 502. The gateway
    has already retried within the request's budget, so it tells the client's SDK not to retry again at
    once (`x-should-retry`, which the OpenAI and Anthropic SDKs honour)."""
    if exc.request_fault:
        return dialect.error(GatewayError(exc.error.status, f"{exc}: {exc.error.message}"), headers)
    status = 429 if exc.error is not None and exc.error.kind == "rate_limit" else 502
    if exc.error is None:
        status = 503
    if exc.deadline_passed:
        status = 504
    detail = f"{exc}: {exc.error.message}" if exc.error else str(exc)
    if exc.deadline_passed:
        detail = f"The request's deadline passed before a model answered. {detail}"
    headers = {**headers, "x-should-retry": "false"}
    if status == 429:  # the provider's wait when it gave one
        headers["Retry-After"] = str(max(1, math.ceil(exc.error.retry_after or 1)))
    return dialect.error(GatewayError(status, detail, type="upstream_error"), headers)


def _extra(draft: CallDraft, execution: Execution) -> dict:
    routed = draft.routed
    return {
        "decision_id": draft.id,
        "route": routed.route.name,
        "policy_version": routed.policy.label,
        "model": execution.model.key,
        "fallbacks_used": execution.fallbacks_used,
        "escalations": execution.escalations,
        "cost_usd": draft.spend(execution)["cost"],
        "trace": list(routed.decision.trace),
        **exposure_fields(routed),
    }


def _openai_answer(draft: CallDraft, execution: Execution) -> dict:
    return wire.completion_body(call_id=draft.id, result=execution.result, extra=_extra(draft, execution))


async def _sse(draft: CallDraft, events: AsyncIterator, data: dict) -> AsyncIterator[bytes]:
    include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
    model = draft.routed.decision.model.split("/", 1)[-1]
    yield wire.chunk(draft.id, model, {"role": "assistant", "content": ""})
    async for event in events:
        if isinstance(event, StreamDelta):
            yield wire.delta_chunk(draft.id, model, event)
            continue
        yield wire.chunk(
            draft.id, event.result.model, {}, event.result.finish_reason, routelab=_extra(draft, event)
        )
        if include_usage:
            yield wire.sse(
                {
                    "id": f"chatcmpl-{draft.id}",
                    "object": "chat.completion.chunk",
                    "model": event.result.model,
                    "choices": [],
                    "usage": wire.usage_body(event.result),
                }
            )
    yield wire.sse("[DONE]")


def _sse_error(message: str) -> bytes:
    return wire.sse(wire.error_body(message, type="upstream_error")) + wire.sse("[DONE]")


OPENAI = Dialect(answer=_openai_answer, stream=_sse, stream_error=_sse_error, error=openai_error)
