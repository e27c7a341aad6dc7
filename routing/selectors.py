"""Reads of the model registry."""

from __future__ import annotations

from django.db.models import Count, QuerySet, Sum
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
