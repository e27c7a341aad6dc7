"""Writes to the model registry, and calls to a registered model through its adapter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from routing.models import Model, Provider
from routing.providers.base import ChatRequest, CompletionResult
from routing.simulator.profiles import DEFAULT_PROFILES, ModelProfile


def provider_create(**fields: Any) -> Provider:
    provider = Provider(**fields)
    provider.full_clean()
    provider.save()
    return provider


def provider_update(*, provider: Provider, **fields: Any) -> Provider:
    for name, value in fields.items():
        setattr(provider, name, value)
    provider.full_clean()
    provider.save()
    return provider


def model_create(**fields: Any) -> Model:
    model = Model(**fields)
    model.full_clean()
    model.save()
    return model


def model_update(*, model: Model, **fields: Any) -> Model:
    for name, value in fields.items():
        setattr(model, name, value)
    model.full_clean()
    model.save()
    return model


def _profile_fields(profile: ModelProfile) -> dict[str, Any]:
    return {
        "display_name": profile.display_name,
        "tier": profile.tier,
        "input_price_per_mtok": profile.input_price_per_mtok,
        "output_price_per_mtok": profile.output_price_per_mtok,
        "context_window": profile.context_window,
        "max_output_tokens": profile.max_output_tokens,
        "supports_vision": profile.vision,
        "supports_tools": profile.tools,
        "supports_json_mode": profile.json_mode,
        "enabled": True,
    }


@transaction.atomic
def registry_seed_simulator(
    *, base_url: str, name: str = "simulator", profiles: Iterable[ModelProfile] = DEFAULT_PROFILES
) -> list[Model]:
    """Register the simulator as a provider with one model per profile; running it twice is harmless."""
    provider, _ = Provider.objects.update_or_create(
        name=name, defaults={"kind": Provider.Kind.SIMULATOR, "base_url": base_url, "enabled": True}
    )
    provider.full_clean()
    models = []
    for profile in profiles:
        model, _ = Model.objects.update_or_create(
            provider=provider, model_id=profile.name, defaults=_profile_fields(profile)
        )
        models.append(model)
    return models


def model_complete(*, model: Model, request: ChatRequest) -> CompletionResult:
    """Call one registered model with its provider's adapter (pooled per process)."""
    from routing.adapters import adapter_for

    return adapter_for(model.provider.kind).complete(model.target(), request)
