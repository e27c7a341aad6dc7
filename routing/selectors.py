"""Reads of the model registry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, F, Max, QuerySet, Sum
from django.utils import timezone

from routing.models import ApiKey, Call, Model, Provider, Route, RoutingPolicy


def provider_list() -> QuerySet[Provider]:
    return Provider.objects.all()


def model_list(*, provider_id: int | None = None, enabled: bool | None = None) -> QuerySet[Model]:
    models = Model.objects.select_related("provider")
    if provider_id is not None:
        models = models.filter(provider_id=provider_id)
    if enabled is not None:
        models = models.filter(enabled=enabled)
    return models


def route_list() -> QuerySet[Route]:
    return Route.objects.select_related("live_policy__policy")


def policy_list(*, route: Route) -> QuerySet[RoutingPolicy]:
    return (
        RoutingPolicy.objects.filter(route=route).select_related("route").prefetch_related("versions__policy")
    )


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.prefetch_related("routes")


def route_overview() -> list[dict]:
    """Each route with its live policy and today's calls and spend, for the routes page."""
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    stats = {
        row["route_id"]: row
        for row in Call.objects.filter(started_at__gte=today)
        .values("route_id")
        .annotate(calls=Count("id"), spend=Sum("cost"))
    }
    return [
        {
            "route": route,
            "calls_today": stats.get(route.id, {}).get("calls", 0),
            "spend_today": stats.get(route.id, {}).get("spend") or 0,
        }
        for route in route_list()
    ]


@dataclass(frozen=True)
class KeyUsage:
    calls: int = 0
    tokens: int = 0
    spend_usd: Decimal = Decimal(0)
    last_used_at: datetime | None = None


def api_key_usage(*, keys: Iterable[ApiKey]) -> dict[int, KeyUsage]:
    """Calls, tokens (input + output), spend and last call of each key, in one grouped query.

    Every key given has an entry; a key that never made a call has zero usage.
    """
    ids = [key.id for key in keys]
    rows = (
        Call.objects.filter(api_key_id__in=ids)
        .values("api_key_id")
        .annotate(
            calls=Count("id"),
            tokens=Sum(F("input_tokens") + F("output_tokens")),
            spend_usd=Sum("cost"),
            last_used_at=Max("started_at"),
        )
        .order_by()
    )
    usage = {key_id: KeyUsage() for key_id in ids}
    for row in rows:
        key_id = row.pop("api_key_id")
        usage[key_id] = KeyUsage(**row)
    return usage
