"""Reads of the model registry."""

from __future__ import annotations

from django.db.models import QuerySet

from routing.models import Model, Provider


def provider_list() -> QuerySet[Provider]:
    return Provider.objects.all()


def model_list(*, provider_id: int | None = None, enabled: bool | None = None) -> QuerySet[Model]:
    models = Model.objects.select_related("provider")
    if provider_id is not None:
        models = models.filter(provider_id=provider_id)
    if enabled is not None:
        models = models.filter(enabled=enabled)
    return models


def model_get_by_name(*, provider_name: str, model_id: str) -> Model:
    return Model.objects.select_related("provider").get(provider__name=provider_name, model_id=model_id)
