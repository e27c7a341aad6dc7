"""The model registry: providers and their models with prices, limits and capabilities."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from urllib.parse import urlparse

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from routing.providers.base import ModelTarget, Price

ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def validate_base_url(value: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ValidationError("Enter an http(s) URL with a host, for example https://api.openai.com/v1.")


def validate_env_var_name(value: str) -> None:
    if not ENV_VAR_NAME.match(value):
        raise ValidationError(
            "Name the environment variable that holds the key (for example OPENAI_API_KEY), not the key itself."
        )


class Provider(models.Model):
    class Kind(models.TextChoices):
        OPENAI = "openai", "OpenAI"
        ANTHROPIC = "anthropic", "Anthropic"
        OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible (vLLM, Ollama, LiteLLM, llama.cpp)"
        SIMULATOR = "simulator", "routelab simulator"
        REPLAY = "replay", "Replay of a recorded dataset"

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    base_url = models.CharField(max_length=500, blank=True, validators=[validate_base_url])
    api_key_env = models.CharField(
        "API key environment variable", max_length=128, blank=True, validators=[validate_env_var_name],
        help_text="The name of the environment variable holding the API key. The key is never stored.",
    )
    options = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind != self.Kind.REPLAY and not self.base_url:
            raise ValidationError({"base_url": "A base URL is required for this provider kind."})
        if self.kind == self.Kind.REPLAY and not (self.options or {}).get("dataset"):
            raise ValidationError({"options": 'A replay provider names its dataset: {"dataset": "<name>"}.'})
        if not isinstance(self.options, dict):
            raise ValidationError({"options": "Options must be a JSON object."})

    @property
    def api_key(self) -> str:
        return os.environ.get(self.api_key_env, "") if self.api_key_env else ""

    @property
    def api_key_configured(self) -> bool:
        return bool(self.api_key)


class Model(models.Model):
    class Tier(models.TextChoices):
        CHEAP = "cheap", "Cheap"
        MID = "mid", "Mid"
        PREMIUM = "premium", "Premium"

    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="models")
    model_id = models.CharField("provider's model id", max_length=200)
    display_name = models.CharField(max_length=200, blank=True)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.MID)
    input_price_per_mtok = models.DecimalField(
        "input price per million tokens (USD)", max_digits=12, decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
    )
    output_price_per_mtok = models.DecimalField(
        "output price per million tokens (USD)", max_digits=12, decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
    )
    context_window = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    max_output_tokens = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    supports_vision = models.BooleanField(default=False)
    supports_tools = models.BooleanField(default=False)
    supports_json_mode = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider__name", "model_id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model_id"], name="model_unique_per_provider"),
            models.CheckConstraint(
                condition=models.Q(input_price_per_mtok__gte=0, output_price_per_mtok__gte=0),
                name="model_prices_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.model_id

    def clean(self) -> None:
        if self.max_output_tokens and self.context_window and self.max_output_tokens > self.context_window:
            raise ValidationError({"max_output_tokens": "Cannot exceed the context window."})

    @property
    def capabilities(self) -> list[str]:
        flags = {"vision": self.supports_vision, "tools": self.supports_tools, "json_mode": self.supports_json_mode}
        return [name for name, on in flags.items() if on]

    @property
    def price(self) -> Price:
        return Price(self.input_price_per_mtok, self.output_price_per_mtok)

    def target(self) -> ModelTarget:
        provider = self.provider
        return ModelTarget(
            provider_kind=provider.kind,
            base_url=provider.base_url,
            model_id=self.model_id,
            price=self.price,
            api_key=provider.api_key,
            max_output_tokens=self.max_output_tokens,
            options=dict(provider.options or {}),
        )
