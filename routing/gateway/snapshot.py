"""The routing snapshot: routes, keys, models and compiled policies, held in memory by every process.

The hot path reads only this snapshot, so a steady-state request makes no database query. Every write
to routes, policies, keys or the registry bumps a generation counter in Redis (on commit); each process
compares its snapshot's generation with Redis at most every `REFRESH_SECONDS` and rebuilds when it
moved, so a published change reaches every process within a second, without a restart.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import redis
from django.db import DatabaseError, transaction
from django.db.models import F

from routing.gateway.redis_client import get_redis, outage
from routing.gateway.threads import in_db_thread
from routing.hooks import LiveExperiment, hooks
from routing.learning.selectors import UnknownRouter, predictor_of, trained_router_get
from routing.models import ApiKey, Model, PolicyVersion, Route, RoutingGeneration
from routing.policies import LearnedPolicy, Policy, compile_policy
from routing.policies.types import Candidate, QualityRouter
from routing.providers.base import ModelTarget

logger = logging.getLogger(__name__)
GENERATION_KEY = "routelab:routing:generation"
REFRESH_SECONDS = 0.5
DB_CHECK_SECONDS = 3.0  # one one-row query per process this often


@dataclass(frozen=True)
class ModelEntry:
    id: int
    key: str
    provider_kind: str
    target: ModelTarget
    candidate: Candidate


@dataclass(frozen=True, eq=False)
class PolicyEntry:
    version_id: int
    label: str
    kind: str
    policy: Policy
    router: QualityRouter | None = None  # a learned policy's trained router, loaded with the snapshot


@dataclass(frozen=True)
class RouteEntry:
    id: int
    name: str
    enabled: bool
    live: PolicyEntry | None
    daily_budget_usd: float | None
    max_attempts: int | None = None
    deadline_seconds: float | None = None
    created: int = 0  # unix seconds, as OpenAI's model objects give it
    allowed_fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeyLimits:
    requests_per_minute: int | None = None
    tokens_per_day: int | None = None
    spend_per_day_usd: float | None = None

    @property
    def daily(self) -> bool:
        return self.tokens_per_day is not None or self.spend_per_day_usd is not None


@dataclass(frozen=True)
class KeyEntry:
    id: int
    name: str
    route_names: frozenset[str]
    revoked: bool
    limits: KeyLimits = KeyLimits()


@dataclass(frozen=True, eq=False)
class RoutingSnapshot:
    generation: int | None  # Redis's counter when it was built; None when Redis was unreachable
    routes: dict[str, RouteEntry]
    keys: dict[str, KeyEntry]
    models: dict[str, ModelEntry]
    policies: dict[int, PolicyEntry]
    # Running experiments per route id, as the experiments app registers them (routing.hooks).
    experiments: dict[int, tuple[LiveExperiment, ...]] = field(default_factory=dict)
    db_generation: int = 0  # the database's counter, read before the rows it was built from

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        return tuple(entry.candidate for entry in self.models.values())


def _model_entry(model: Model) -> ModelEntry:
    candidate = Candidate(
        key=model.key,
        tier=model.tier,
        input_price_per_mtok=float(model.input_price_per_mtok),
        output_price_per_mtok=float(model.output_price_per_mtok),
        context_window=model.context_window,
        max_output_tokens=model.max_output_tokens,
        vision=model.supports_vision,
        tools=model.supports_tools,
        json_mode=model.supports_json_mode,
        quality=model.quality_estimate,
        embeddings=model.supports_embeddings,
    )
    return ModelEntry(model.id, model.key, model.provider.kind, model.target(), candidate)


def policy_entry(version: PolicyVersion) -> PolicyEntry:
    policy = compile_policy(version.spec)
    router = None
    if isinstance(policy, LearnedPolicy):
        try:
            router = predictor_of(trained_router_get(ref=policy.router))
        except UnknownRouter:  # published ones are checked; without it the policy serves its last model
            logger.error("policy %s names router %s, which does not exist", version.label, policy.router)
    return PolicyEntry(version.id, version.label, version.kind, policy, router)


def _experiments() -> tuple[dict[int, tuple[LiveExperiment, ...]], set[int]]:
    by_route: dict[int, list[LiveExperiment]] = {}
    for experiment in hooks.running_experiments():
        by_route.setdefault(experiment.route_id, []).append(experiment)
    version_ids = {v.policy_version_id for group in by_route.values() for e in group for v in e.variants}
    return {route_id: tuple(group) for route_id, group in by_route.items()}, version_ids


def db_generation() -> int:
    return RoutingGeneration.objects.filter(pk=1).values_list("value", flat=True).first() or 0


def build_snapshot(generation: int | None) -> RoutingSnapshot:
    stored_generation = db_generation()  # first: a change committed meanwhile leaves this one behind
    models = Model.objects.select_related("provider").filter(enabled=True, provider__enabled=True)
    routes = Route.objects.select_related("live_policy__policy")
    keys = ApiKey.objects.prefetch_related("routes")
    experiments, variant_versions = _experiments()
    policies = {r.live_policy_id: policy_entry(r.live_policy) for r in routes if r.live_policy_id}
    missing = variant_versions - set(policies)
    for version in PolicyVersion.objects.select_related("policy").filter(id__in=missing):
        policies[version.id] = policy_entry(version)
    return RoutingSnapshot(
        generation=generation,
        models={m.key: _model_entry(m) for m in models},
        routes={r.name: _route_entry(r, policies) for r in routes},
        keys={k.key_hash: _key_entry(k) for k in keys},
        policies=policies,
        experiments=experiments,
        db_generation=stored_generation,
    )


def _float_or_none(value) -> float | None:
    return float(value) if value is not None else None


def _route_entry(route: Route, policies: dict[int, PolicyEntry]) -> RouteEntry:
    live = policies.get(route.live_policy_id) if route.live_policy_id else None
    budget = _float_or_none(route.daily_budget_usd)
    return RouteEntry(
        route.id,
        route.name,
        route.enabled,
        live,
        budget,
        route.max_attempts,
        route.deadline_seconds,
        int(route.created_at.timestamp()),
        tuple(route.allowed_fallbacks),
    )


def _key_entry(key: ApiKey) -> KeyEntry:
    limits = KeyLimits(key.requests_per_minute, key.tokens_per_day, _float_or_none(key.spend_per_day_usd))
    routes = frozenset(r.name for r in key.routes.all())
    return KeyEntry(key.id, key.name, routes, key.revoked_at is not None, limits)


class SnapshotCache:
    """The process's snapshot, checked against Redis's generation at most every `refresh_seconds`.

    Redis carries the announcement of a change; the database's generation is the truth. It is compared
    after this process saw Redis fail (an announcement made meanwhile may be lost) and at least every
    `db_check_seconds` (a process that saw no failure may have missed one too), so a change made during a
    Redis outage reaches every process soon after Redis returns, and within `db_check_seconds` anyway.
    """

    def __init__(self, refresh_seconds: float = REFRESH_SECONDS, db_check_seconds: float = DB_CHECK_SECONDS):
        self.refresh_seconds = refresh_seconds
        self.db_check_seconds = db_check_seconds
        self._snapshot: RoutingSnapshot | None = None
        self._checked = 0.0
        self._db_checked = 0.0
        self._lock = threading.Lock()

    def fresh(self) -> RoutingSnapshot | None:
        """The snapshot when it was checked recently enough, without any I/O."""
        if self._snapshot is not None and time.monotonic() - self._checked < self.refresh_seconds:
            return self._snapshot
        return None

    def get(self) -> RoutingSnapshot:
        if snapshot := self.fresh():
            return snapshot
        with self._lock:
            return self.fresh() or self._refresh()

    async def aget(self) -> RoutingSnapshot:
        return self.fresh() or await in_db_thread(self.get)()

    def policy(self, version_id: int) -> PolicyEntry:
        """A compiled policy version; versions not yet in the snapshot are loaded once."""
        snapshot = self.get()
        if entry := snapshot.policies.get(version_id):
            return entry
        entry = policy_entry(PolicyVersion.objects.select_related("policy").get(pk=version_id))
        snapshot.policies[version_id] = entry
        return entry

    def clear(self) -> None:
        with self._lock:
            self._snapshot = None

    def _refresh(self) -> RoutingSnapshot:
        current = self._snapshot
        generation = self._redis_generation()
        if current is None or generation is None or generation != current.generation or self._db_due():
            current = self._rebuild_if_stale(generation, current)
        self._checked = time.monotonic()
        return current

    def _redis_generation(self) -> int | None:
        if outage.skipping():
            return None
        try:
            return int(get_redis().get(GENERATION_KEY) or 0)
        except redis.RedisError:
            outage.failed()
            logger.warning("routing snapshot: Redis unreachable, checking the database's generation")
            return None

    def _db_due(self) -> bool:
        return outage.take_seen() or time.monotonic() - self._db_checked >= self.db_check_seconds

    def _rebuild_if_stale(self, generation: int | None, current: RoutingSnapshot | None) -> RoutingSnapshot:
        """Rebuild when Redis announced a change or the database's generation moved; while the database
        is down, serve what we have."""
        try:
            announced = current is None or generation not in (None, current.generation)
            self._db_checked = time.monotonic()
            if not announced and db_generation() == current.db_generation:
                return current
            self._snapshot = build_snapshot(generation)
        except DatabaseError:
            if current is None:
                raise
            logger.warning(
                "routing snapshot: database unreachable, serving generation %s", current.generation
            )
            return current
        return self._snapshot


snapshot_cache = SnapshotCache()


def routing_changed() -> None:
    """Call inside the transaction of any change to routing data: the database's generation moves with
    the change, and once it commits Redis announces it to every process."""
    updated = RoutingGeneration.objects.filter(pk=1).update(value=F("value") + 1)
    if not updated:
        RoutingGeneration.objects.get_or_create(pk=1, defaults={"value": 1})
    transaction.on_commit(routing_cache_invalidate)


def routing_cache_invalidate() -> None:
    """Tell every process that routing data changed; each rebuilds its snapshot within a second. With
    Redis down the announcement is lost, and the database's generation (`routing_changed`) carries it."""
    snapshot_cache.clear()
    try:
        get_redis().incr(GENERATION_KEY)
    except redis.RedisError as exc:
        outage.failed()
        logger.warning("routing change not announced, Redis unreachable (%s); the database carries it", exc)
