"""Router training data from a route's own traffic: each successful call's prompt and the quality one
scorer gave its answer. A call tells only the quality of the model that served it, so each model's
predictor learns from the calls it served; training refuses a model with too few.

Registered as the `route` training source (experiments.training_sources) when analytics starts.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from analytics.models import Score
from routing.learning.training import TrainingError, TrainingSet
from routing.models import Call, Route

DEFAULT_SCORER = "recorded_quality"


def training_set_from_route(
    *, route: str, since: str | datetime, until: str | datetime | None = None, scorer: str = DEFAULT_SCORER
) -> TrainingSet:
    """Distinct prompts of the route's successful calls in [since, until), per model the mean score."""
    try:
        route_row = Route.objects.get(name=route)
    except Route.DoesNotExist:
        raise TrainingError(f"no route named {route!r}") from None
    start, end = _moment(since, "since"), _moment(until, "until") if until is not None else timezone.now()
    if start >= end:
        raise TrainingError(f"since ({start.isoformat()}) must come before until ({end.isoformat()})")
    scores = (
        Score.objects.filter(
            call__route=route_row,
            call__status=Call.Status.OK,
            call__started_at__gte=start,
            call__started_at__lt=end,
            scorer=scorer,
            status=Score.Status.SCORED,
            value__isnull=False,
        )
        .exclude(call__prompt="")
        .order_by("call__started_at")
        .values_list("call__prompt", "call__model_key", "value")
    )
    prompts: dict[str, dict[str, list[float]]] = {}
    for prompt, model, value in scores.iterator(chunk_size=5000):
        prompts.setdefault(prompt, {}).setdefault(model, []).append(value)
    if not prompts:
        raise TrainingError(
            f"route {route!r} has no successful call scored by {scorer!r} between {start.isoformat()} and "
            f"{end.isoformat()}; nothing to learn from"
        )
    models = sorted({model for qualities in prompts.values() for model in qualities})
    source = {
        "kind": "route",
        "route": route,
        "since": start.isoformat(),
        "until": end.isoformat(),
        "scorer": scorer,
    }
    return TrainingSet.of_observations(prompts, models, source)


def _moment(value: str | datetime, name: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise TrainingError(
                f"{name} must be an ISO date or time such as 2026-11-01, not {value!r}"
            ) from None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value
