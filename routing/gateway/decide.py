"""Step 4 of a live request: the policy engine turns the request into a decision, and steps 2 to 4 together.

Everything here reads the in-memory routing snapshot; nothing queries the database. The endpoints
(`routing.gateway.endpoint.key_endpoint` has authenticated the key) call `route_live_request`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal

from routing.gateway.assign import Exposure, choose_policy, user_hash
from routing.gateway.authenticate import resolve_route
from routing.gateway.errors import GatewayError
from routing.gateway.execute import classify_once
from routing.gateway.limits import limits_check
from routing.gateway.live import live_state
from routing.gateway.snapshot import KeyEntry, PolicyEntry, RouteEntry, RoutingSnapshot
from routing.gateway.wire import chat_request_from
from routing.policies import NoEligibleModel
from routing.policies.embeddings import cached_embed
from routing.policies.types import Decision, RouteRequest, RoutingContext
from routing.providers.base import ChatRequest, CompletionResult, content_text, estimate_tokens, message_chars

CLASSIFIER_TIMEOUT_SECONDS = 2.0
EMBEDDING_KINDS = frozenset({"semantic", "learned"})


def _has_images(messages: tuple[dict, ...]) -> bool:
    return any(
        isinstance(part, dict) and part.get("type") in {"image_url", "image", "input_image"}
        for message in messages
        if isinstance(message.get("content"), list)
        for part in message["content"]
    )


def route_request_from_chat(chat: ChatRequest, metadata: dict[str, str]) -> RouteRequest:
    prompts = (m.get("content") for m in chat.messages if m.get("role") in {"system", "user"})
    text = "\n".join(content_text(content, "\n") for content in prompts)
    return RouteRequest(
        text=text,
        input_tokens=estimate_tokens(message_chars(chat.messages)),
        feature=metadata.get("feature"),
        user_tier=metadata.get("user_tier"),
        has_images=_has_images(chat.messages),
        needs_tools=bool(chat.tools),
        max_output_tokens=chat.max_tokens,
        metadata=metadata,
        needs_json=(chat.response_format or {}).get("type") in {"json_object", "json_schema"},
    )


@dataclass(frozen=True)
class Routed:
    """The outcome of steps 1-4: who asked, on which route, under which policy, and the decision."""

    snapshot: RoutingSnapshot
    key: KeyEntry
    route: RouteEntry
    policy: PolicyEntry
    decision: Decision
    user_hash: str
    exposure: Exposure | None = None
    overhead: tuple[Paid, ...] = ()  # paid calls made to decide (a classifier's)


@dataclass(frozen=True)
class Paid:
    """What a call made to decide (an llm_router's classification) cost; the call row adds it up."""

    cost: Decimal
    input_tokens: int
    output_tokens: int

    @classmethod
    def of(cls, result: CompletionResult) -> Paid:
        return cls(result.cost, result.input_tokens, result.output_tokens)

    def to_json(self) -> dict:
        return {
            "cost": str(self.cost),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }

    @classmethod
    def from_json(cls, data: dict) -> Paid:
        return cls(Decimal(data["cost"]), data["input_tokens"], data["output_tokens"])


async def _classify(
    snapshot: RoutingSnapshot, policy: PolicyEntry, request: RouteRequest
) -> CompletionResult | None:
    """Run an llm_router's classifier model; None on timeout or error, so the policy takes its default."""
    entry = snapshot.models.get(policy.policy.classifier_model)
    if entry is None:
        return None
    messages = tuple(policy.policy.classifier_prompt(request))
    try:
        return await asyncio.wait_for(classify_once(entry, messages), CLASSIFIER_TIMEOUT_SECONDS)
    except Exception:  # noqa: BLE001 - any failure of the classifier means "use the default tier"
        return None


async def decide(
    snapshot: RoutingSnapshot, route: RouteEntry, policy: PolicyEntry, request: RouteRequest
) -> tuple[Decision, tuple[Paid, ...]]:
    """The decision, and the paid calls it took (an llm_router's classification), which the call's
    cost includes: a router that spends to decide must show that spend in its experiment."""
    state = await live_state(snapshot, route)
    classified = await _classify(snapshot, policy, request) if policy.policy.needs_classification else None
    classification = classified.text if classified is not None else None
    context = RoutingContext(
        candidates=snapshot.candidates,
        stats=state.stats,
        budget_remaining=state.budget_remaining,
        classification=classification,
        embed=_embedder(policy),
        router=policy.router,
        allowed_fallbacks=route.allowed_fallbacks,
    )
    overhead = (Paid.of(classified),) if classified is not None else ()
    try:
        if policy.kind in EMBEDDING_KINDS:  # embedding takes milliseconds of CPU: keep it off the event loop
            return await asyncio.to_thread(policy.policy.decide, request, context), overhead
        return policy.policy.decide(request, context), overhead
    except NoEligibleModel as exc:
        raise GatewayError(422, str(exc), param="input" if request.needs_embeddings else "messages") from exc


def _embedder(policy: PolicyEntry):
    return cached_embed if policy.kind in EMBEDDING_KINDS else None


async def route_live_request(
    *, snapshot: RoutingSnapshot, key: KeyEntry, data: dict
) -> tuple[Routed, ChatRequest, RouteRequest]:
    """Steps 2-4 for an authenticated key and a validated chat body: route, policy, decision."""
    chat = chat_request_from(data)
    request = route_request_from_chat(chat, dict(data.get("metadata") or {}))
    return await route_decided(snapshot=snapshot, key=key, data=data, request=request), chat, request


async def route_decided(
    *, snapshot: RoutingSnapshot, key: KeyEntry, data: dict, request: RouteRequest
) -> Routed:
    """Steps 2-4 for any request the engine can route (`data` names the route, the user and the metadata).
    No database query."""
    route = resolve_route(snapshot, key, data.get("model") or None)
    await limits_check(snapshot, key, route)
    policy, exposure = choose_policy(snapshot, route, data.get("user"), dict(request.metadata))
    if request.needs_embeddings:
        _check_embedding_model(snapshot, policy)
    decision, overhead = await decide(snapshot, route, policy, request)
    return Routed(snapshot, key, route, policy, decision, user_hash(data.get("user")), exposure, overhead)


def _check_embedding_model(snapshot: RoutingSnapshot, policy: PolicyEntry) -> None:
    """A policy that names models must name an embedding model to serve embeddings; one that names none
    (a cost-aware or hybrid policy over the whole registry) chooses among the registry's."""
    named = [snapshot.models.get(model_key) for model_key in policy.policy.serving_models()]
    if named and not any(entry is not None and entry.candidate.embeddings for entry in named):
        raise GatewayError(
            400,
            f"The route's policy {policy.label} names no embedding model: add one (a registry model"
            " marked as an embedding model) to the policy to serve /v1/embeddings.",
            param="model",
        )
