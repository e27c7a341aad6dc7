"""The simulator in the model registry: one provider, one model per profile (demo, benches, tests)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from devtools.simulator.profiles import DEFAULT_PROFILES, ModelProfile
from routing import services
from routing.models import Model, Provider


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
    fields = {"kind": Provider.Kind.SIMULATOR, "base_url": base_url, "enabled": True}
    provider = Provider.objects.filter(name=name).first()
    if provider is None:
        provider = services.provider_create(name=name, **fields)
    else:
        provider = services.provider_update(provider=provider, **fields)
    return [_seed_model(provider, profile) for profile in profiles]


def _seed_model(provider: Provider, profile: ModelProfile) -> Model:
    model = Model.objects.filter(provider=provider, model_id=profile.name).first()
    if model is None:
        return services.model_create(provider=provider, model_id=profile.name, **_profile_fields(profile))
    return services.model_update(model=model, **_profile_fields(profile))
