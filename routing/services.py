"""Writes to the model registry, and calls to a registered model through its adapter."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from routing import hooks
from routing.audit import audit_record
from routing.gateway.adapters import adapter_for
from routing.gateway.decide import Routed
from routing.gateway.keys import KEY_PREFIX, hash_api_key
from routing.gateway.pgtext import storable
from routing.gateway.snapshot import routing_changed
from routing.learning.selectors import UnknownRouter, trained_router_get
from routing.models import (
    ApiKey,
    Call,
    Job,
    Model,
    PolicyVersion,
    Provider,
    Route,
    RoutingPolicy,
    TrainedRouter,
)
from routing.policies import LearnedPolicy, Policy, SpecError, compile_policy
from routing.providers.base import ChatRequest, CompletionResult
from routing.tasks import job_execute_task


@transaction.atomic
def provider_create(*, user=None, **fields: Any) -> Provider:
    return _registry_save(Provider(**fields), user=user, action="provider.create", changes=_created(fields))


@transaction.atomic
def provider_update(*, provider: Provider, user=None, **fields: Any) -> Provider:
    changes = _changes(provider, fields)
    return _registry_save(provider, user=user, action="provider.update", changes=changes)


@transaction.atomic
def provider_delete(*, provider: Provider, user=None) -> None:
    """ProtectedError while a model of the provider is still used by calls."""
    audit_record(actor=user, action="provider.delete", target=provider)
    provider.delete()
    _invalidate_on_commit()


@transaction.atomic
def model_create(*, user=None, **fields: Any) -> Model:
    return _registry_save(Model(**fields), user=user, action="model.create", changes=_created(fields))


@transaction.atomic
def model_update(*, model: Model, user=None, **fields: Any) -> Model:
    return _registry_save(model, user=user, action="model.update", changes=_changes(model, fields))


@transaction.atomic
def model_delete(*, model: Model, user=None) -> None:
    audit_record(actor=user, action="model.delete", target=model)
    model.delete()
    _invalidate_on_commit()


def _changes(row, fields: dict[str, Any]) -> dict[str, list[str]]:
    """Set `fields` on `row`; returns [before, after] of each, as text. Secrets are never in a row."""
    changes = {name: [str(getattr(row, name)), str(value)] for name, value in fields.items()}
    for name, value in fields.items():
        setattr(row, name, value)
    return changes


def _created(fields: dict[str, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in fields.items()}


@transaction.atomic
def _registry_save(row, *, user, action: str, changes: dict[str, Any]):
    """Validate and save a provider or model, audit it, and drop the routing caches after commit."""
    row.full_clean()
    row.save()
    audit_record(actor=user, action=action, target=row, changes=changes)
    _invalidate_on_commit()
    return row


def model_complete(*, model: Model, request: ChatRequest) -> CompletionResult:
    """Call one registered model with its provider's adapter (pooled per process)."""
    return adapter_for(model.provider.kind).complete(model.target(), request)


# -- routes, policies and keys ------------------------------------------------------------------------


def _invalidate_on_commit() -> None:
    routing_changed()


def _scoring_validate(scoring: Any) -> None:
    """A route's scoring settings, checked by the scorers registered (analytics documents the format)."""
    try:
        hooks.scoring_validate(scoring, model_enabled=_model_enabled)
    except hooks.ScoringInvalid as exc:
        raise ValidationError({"scoring": str(exc)}) from exc


def _model_enabled(key: str) -> bool:
    provider, _, model_id = key.partition("/")
    return Model.objects.filter(provider__name=provider, model_id=model_id, enabled=True).exists()


def _enabled_model_keys() -> set[str]:
    return {model.key for model in Model.objects.select_related("provider").filter(enabled=True)}


def _allowed_fallbacks_validate(keys: Any) -> None:
    """A route's allowed fallbacks: registered, enabled models, each named once."""
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise ValidationError({"allowed_fallbacks": "A list of model keys (provider/model-id)."})
    if len(set(keys)) < len(keys):
        raise ValidationError({"allowed_fallbacks": "Name each model once."})
    if missing := [key for key in keys if key not in _enabled_model_keys()]:
        raise ValidationError({"allowed_fallbacks": f"unknown or disabled model(s): {', '.join(missing)}"})


def policy_spec_validate(*, spec: Any) -> Policy:
    """Compile a spec and check every model it names is registered and enabled; errors name the path."""
    if not isinstance(spec, dict):
        raise ValidationError({"spec": "The policy spec must be a JSON object."})
    try:
        policy = compile_policy(spec)
    except SpecError as exc:
        raise ValidationError({"spec": str(exc)}) from exc
    if missing := sorted(policy.models_referenced() - _enabled_model_keys()):
        raise ValidationError({"spec": f"unknown or disabled model(s): {', '.join(missing)}"})
    if isinstance(policy, LearnedPolicy):
        _learned_router_check(policy)
    return policy


def _learned_router_check(policy: LearnedPolicy) -> TrainedRouter:
    """The trained router a learned spec names exists and predicts every model the spec lists."""
    try:
        router = trained_router_get(ref=policy.router)
    except UnknownRouter as exc:
        raise ValidationError({"spec": f"router: {exc}"}) from exc
    if unmatched := policy.unmatched_models(router.model_names):
        raise ValidationError(
            {
                "spec": f"router: {router.label} predicts {', '.join(router.model_names)}, not "
                f"{', '.join(unmatched)}; list models it was trained on, or train one on these"
            }
        )
    return router


def _spec_pinned(spec: dict, policy: Policy) -> dict:
    """A learned spec names the router version it routes with, so retraining never changes a version."""
    if not isinstance(policy, LearnedPolicy):
        return spec
    return {**spec, "router": _learned_router_check(policy).label}


@transaction.atomic
def route_create(*, name: str, scoring=None, user=None, **fields: Any) -> Route:
    """A new route; `fields` are Route's other settings (description, budget, limits, fallbacks)."""
    route = Route(name=name, scoring=scoring or {}, **fields)
    _scoring_validate(route.scoring)
    _allowed_fallbacks_validate(route.allowed_fallbacks)
    route.full_clean()
    route.save()
    audit_record(actor=user, action="route.create", target=route)
    _invalidate_on_commit()
    return route


@transaction.atomic
def route_update(*, route: Route, user=None, **fields: Any) -> Route:
    changes = _changes(route, fields)
    if "scoring" in fields:
        _scoring_validate(route.scoring)
    if "allowed_fallbacks" in fields:
        _allowed_fallbacks_validate(route.allowed_fallbacks)
    route.full_clean()
    route.save()
    audit_record(actor=user, action="route.update", target=route, changes=changes)
    _invalidate_on_commit()
    return route


@transaction.atomic
def policy_create(*, route: Route, name: str, spec: dict, description: str = "", user=None) -> PolicyVersion:
    """Create a policy with its first version; the first policy of a route becomes its live policy."""
    policy = RoutingPolicy(route=route, name=name, description=description)
    policy.full_clean()
    policy.save()
    version = policy_publish(policy=policy, spec=spec, note="first version", user=user)
    if route.live_policy_id is None:
        route_set_live_policy(route=route, version=version, user=user)
    return version


@transaction.atomic
def policy_publish(*, policy: RoutingPolicy, spec: dict, note: str = "", user=None) -> PolicyVersion:
    """Publish a new immutable version; the policy row is locked so numbers never collide."""
    compiled = policy_spec_validate(spec=spec)
    spec = _spec_pinned(spec, compiled)
    RoutingPolicy.objects.select_for_update().get(pk=policy.pk)
    last = policy.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = PolicyVersion.objects.create(
        policy=policy, number=last + 1, kind=compiled.kind, spec=spec, note=note, created_by=user
    )
    audit_record(actor=user, action="policy.publish", target=version, changes={"spec": spec}, note=note)
    _invalidate_on_commit()
    return version


@transaction.atomic
def route_set_live_policy(*, route: Route, version: PolicyVersion, user=None, note: str = "") -> Route:
    if version.policy.route_id != route.id:
        raise ValidationError({"live_policy": f"{version} belongs to another route."})
    previous = route.live_policy.label if route.live_policy_id else None
    route.live_policy = version
    route.save(update_fields=["live_policy", "updated_at"])
    audit_record(
        actor=user,
        action="route.set_live_policy",
        target=route,
        changes={"live_policy": [previous, version.label]},
        note=note,
    )
    _invalidate_on_commit()
    return route


KEY_LIMIT_FIELDS = ("requests_per_minute", "tokens_per_day", "spend_per_day_usd")


def api_key_create(*, name: str, routes: Iterable[Route], user=None, **limits: Any) -> tuple[ApiKey, str]:
    """Create a key, with its limits (`KEY_LIMIT_FIELDS`) if given; the raw key is returned once and only
    its SHA-256 hash is kept."""
    routes = list(routes)
    if not routes:
        raise ValidationError({"routes": "A key must be scoped to at least one route."})
    if unknown := set(limits) - set(KEY_LIMIT_FIELDS):
        raise ValidationError({name: "Not a key limit." for name in sorted(unknown)})
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey(name=name, prefix=raw[:10], key_hash=hash_api_key(raw), created_by=user, **limits)
    api_key.full_clean(exclude=["routes"])
    with transaction.atomic():
        api_key.save()
        api_key.routes.set(routes)
        audit_record(
            actor=user,
            action="api_key.create",
            target=api_key,
            changes={"routes": [route.name for route in routes]},
        )
        _invalidate_on_commit()
    return api_key, raw


@transaction.atomic
def api_key_update(*, api_key: ApiKey, user=None, **fields: Any) -> ApiKey:
    """Change a key's name or limits (requests per minute, tokens and spend per UTC day; None: none)."""
    unknown = set(fields) - {"name", *KEY_LIMIT_FIELDS}
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    changes = _changes(api_key, fields)
    api_key.full_clean(exclude=["routes"])
    api_key.save()
    audit_record(actor=user, action="api_key.update", target=api_key, changes=changes)
    _invalidate_on_commit()
    return api_key


def api_key_revoke(*, api_key: ApiKey, user=None) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        with transaction.atomic():
            api_key.save(update_fields=["revoked_at"])
            audit_record(actor=user, action="api_key.revoke", target=api_key)
            _invalidate_on_commit()
    return api_key


# -- asynchronous calls -------------------------------------------------------------------------------


def job_create(*, routed: Routed, data: dict, webhook_url: str = "") -> Job:
    exposure = routed.exposure.__dict__ if routed.exposure else {}
    job = Job.objects.create(
        id=uuid.uuid4(),
        route_id=routed.route.id,
        api_key_id=routed.key.id,
        policy_version_id=routed.policy.version_id,
        call_id=uuid.uuid4(),
        request=storable(data),  # what the worker will send, as PostgreSQL can keep it
        exposure=exposure,
        decision=storable(routed.decision.to_json()),
        routing_spend=[paid.to_json() for paid in routed.overhead],
        user_hash=routed.user_hash,
        webhook_url=webhook_url,
        webhook_status="pending" if webhook_url else "",
    )
    transaction.on_commit(lambda: job_execute_task.delay(str(job.id)))
    return job


def calls_claim_sql() -> str:
    """A data-modifying CTE body that marks up to `%(batch)s` experiment calls as rolled up, oldest first,
    skipping rows another refresh holds, and returns what a roll-up folds of each.

    Routing owns the writes to its call table: a roll-up composes this into its own statement
    (`WITH claimed AS (<this>) ...`) so that the claim and the fold commit together, exactly once per call.
    The call table is partitioned by started_at (routing/partitions.py): the picked rows are found again
    by id through each partition's primary key, within their started_at range, so partitions outside it
    are pruned when the statement starts and no plan ever scans a whole partition, whatever the estimates.
    """
    table = Call._meta.db_table
    return f"""
    WITH picked AS MATERIALIZED (
        SELECT id, started_at FROM {table}
        WHERE NOT rolled_up AND experiment_id IS NOT NULL
        ORDER BY recorded_at LIMIT %(batch)s FOR UPDATE SKIP LOCKED
    )
    UPDATE {table} SET rolled_up = true
    WHERE id = ANY (ARRAY(SELECT id FROM picked))
        AND started_at BETWEEN (SELECT MIN(started_at) FROM picked) AND (SELECT MAX(started_at) FROM picked)
    RETURNING experiment_id, phase, variant, user_hash, cost, latency_ms, status, fallbacks_used,
        started_at, metadata, ttft_ms"""
