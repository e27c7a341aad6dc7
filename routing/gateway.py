"""A live request, steps 1 to 4 of DESIGN.md: authenticate, find the route, pick the policy, decide.

Everything here reads the in-memory routing snapshot; nothing queries the database. The APIs call
these functions and turn a `GatewayError` into a 4xx response in their own wire format.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import RequestDataTooBig

from experiments.assignment import assign
from routing.chat_body import BodyError, validate_chat_body
from routing.keys import hash_api_key
from routing.live import live_state
from routing.policies import NoEligibleModel
from routing.policies.types import Decision, RouteRequest, RoutingContext
from routing.providers.base import ChatRequest, CompletionResult, estimate_tokens, message_chars
from routing.snapshot import KeyEntry, PolicyEntry, RouteEntry, RoutingSnapshot, snapshot_cache
from routing.wire import chat_request_from

ROUTE_PREFIX = "route:"
CLASSIFIER_TIMEOUT_SECONDS = 2.0


class GatewayError(Exception):
    def __init__(
        self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param


# JSON may escape half of a UTF-16 surrogate pair alone ("\\ud800"), which decodes to no character and
# cannot be encoded to go upstream or into PostgreSQL; a whole pair (an emoji) is fine
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _is_unicode(data) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_chat_body(request) -> dict:
    """The validated body of a chat request, or a GatewayError naming what is wrong with it."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise GatewayError(413, "The request body is too large.") from None
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(400, f"The body is not valid JSON: {exc}.") from None
    if SURROGATE_ESCAPE.search(body) and not _is_unicode(data):
        raise GatewayError(
            400, "The body escapes a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid Unicode."
        )
    try:
        return validate_chat_body(data)
    except BodyError as exc:
        raise GatewayError(400, str(exc), param=exc.path or None) from None


def authenticate(snapshot: RoutingSnapshot, authorization: str | None) -> KeyEntry:
    scheme, _, raw = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise GatewayError(
            401, "Missing API key: send 'Authorization: Bearer <key>'.", type="authentication_error"
        )
    key = snapshot.keys.get(hash_api_key(raw.strip()))
    if key is None:
        raise GatewayError(401, "Invalid API key.", type="authentication_error")
    if key.revoked:
        raise GatewayError(401, f"The API key '{key.name}' was revoked.", type="authentication_error")
    return key


def resolve_route(snapshot: RoutingSnapshot, key: KeyEntry, requested: str | None) -> RouteEntry:
    """The route named by `route:<name>` (or a bare route name), else the key's only route."""
    name = requested.removeprefix(ROUTE_PREFIX) if requested else None
    if name is None or (name not in snapshot.routes and not requested.startswith(ROUTE_PREFIX)):
        if len(key.route_names) != 1:
            raise GatewayError(
                400,
                "Name a route: set model to 'route:<name>'; this key serves "
                f"{', '.join(sorted(key.route_names))}.",
                param="model",
            )
        name = next(iter(key.route_names))
    route = snapshot.routes.get(name)
    if route is None:
        raise GatewayError(404, f"Unknown route '{name}'.", type="not_found_error", param="model")
    if name not in key.route_names:
        raise GatewayError(403, f"This API key is not allowed on route '{name}'.", type="permission_error")
    if not route.enabled:
        raise GatewayError(403, f"Route '{name}' is disabled.", type="permission_error")
    if route.live is None:
        raise GatewayError(409, f"Route '{name}' has no live policy yet.", type="conflict_error")
    return route


def user_hash(user: str | None) -> str:
    return hashlib.sha256(user.encode()).hexdigest() if user else ""


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def _has_images(messages: tuple[dict, ...]) -> bool:
    return any(
        isinstance(part, dict) and part.get("type") in {"image_url", "image", "input_image"}
        for message in messages
        if isinstance(message.get("content"), list)
        for part in message["content"]
    )


def route_request_from_chat(chat: ChatRequest, metadata: dict[str, str]) -> RouteRequest:
    text = "\n".join(_text_of(m.get("content")) for m in chat.messages if m.get("role") in {"system", "user"})
    return RouteRequest(
        text=text,
        input_tokens=estimate_tokens(message_chars(chat.messages)),
        feature=metadata.get("feature"),
        user_tier=metadata.get("user_tier"),
        has_images=_has_images(chat.messages),
        needs_tools=bool(chat.tools),
        max_output_tokens=chat.max_tokens,
        metadata=metadata,
    )


@dataclass(frozen=True)
class Exposure:
    """The experiment, variant and phase a request was assigned to."""

    experiment_id: int
    experiment: str
    variant: str
    phase: int


def targeting_matches(targeting: dict, metadata: dict[str, str]) -> bool:
    """Every targeted metadata key must carry one of its allowed values; no targeting means everyone."""
    for key, allowed in targeting.items():
        values = allowed if isinstance(allowed, list | tuple) else [allowed]
        if metadata.get(key) not in {str(value) for value in values}:
            return False
    return True


def choose_policy(
    snapshot: RoutingSnapshot, route: RouteEntry, user_id: str | None, metadata: dict[str, str]
) -> tuple[PolicyEntry, Exposure | None]:
    """Step 3: the policy of the user's variant in a running experiment, else the route's live policy."""
    if not user_id:
        return route.live, None
    for experiment in snapshot.experiments.get(route.id, ()):
        if not targeting_matches(experiment.targeting, metadata):
            continue
        assignment = assign(
            seed=experiment.seed,
            user_id=user_id,
            weights=[v.weight for v in experiment.variants],
            coverage=experiment.coverage,
            namespace=experiment.namespace,
            hash_version=experiment.hash_version,
        )
        if assignment.in_experiment:
            variant = experiment.variants[assignment.variation]
            exposure = Exposure(experiment.id, experiment.name, variant.key, experiment.phase)
            return snapshot.policies[variant.policy_version_id], exposure
    return route.live, None


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
    from routing.executor import classify_once

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
    )
    overhead = (Paid.of(classified),) if classified is not None else ()
    try:
        if policy.kind == "semantic":  # embedding takes milliseconds of CPU: keep it off the event loop
            return await asyncio.to_thread(policy.policy.decide, request, context), overhead
        return policy.policy.decide(request, context), overhead
    except NoEligibleModel as exc:
        raise GatewayError(422, str(exc), param="messages") from exc


def _embedder(policy: PolicyEntry):
    if policy.kind != "semantic":
        return None
    from routing.policies.embeddings import embed

    return embed


async def route_live_request(
    *, authorization: str | None, data: dict
) -> tuple[Routed, ChatRequest, RouteRequest]:
    """Steps 1-4 for a validated request body: key, route, policy, decision. No database query."""
    snapshot = await snapshot_cache.aget()
    key = authenticate(snapshot, authorization)
    route = resolve_route(snapshot, key, data.get("model") or None)
    chat = chat_request_from(data)
    metadata = dict(data.get("metadata") or {})
    request = route_request_from_chat(chat, metadata)
    policy, exposure = choose_policy(snapshot, route, data.get("user"), metadata)
    decision, overhead = await decide(snapshot, route, policy, request)
    routed = Routed(snapshot, key, route, policy, decision, user_hash(data.get("user")), exposure, overhead)
    return routed, chat, request


def exposure_fields(routed: Routed) -> dict:
    """The experiment, variant and phase of a routed request, as response bodies show them."""
    exposure = routed.exposure
    if exposure is None:
        return {"experiment": None, "variant": None, "phase": None}
    return {"experiment": exposure.experiment, "variant": exposure.variant, "phase": exposure.phase}
