"""Forms of the model registry pages: every field bounded so nothing out of range reaches the database."""

from __future__ import annotations

import json
import math
from typing import Any

from django import forms

from routing.models import Model, Provider, validate_env_var_name

PG_INT_MAX = 2**31 - 1  # PositiveIntegerField is a PostgreSQL integer
OPTIONS_MAX_CHARS = 20_000


def _no_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is too large")
    return value


def _has_nul(value: Any) -> bool:
    """PostgreSQL cannot store \\u0000 in a jsonb string."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class JsonObjectField(forms.CharField):
    """A JSON object typed into a textarea, shown back as indented JSON; empty means {}."""

    widget = forms.Textarea(attrs={"rows": 6, "spellcheck": "false"})

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", OPTIONS_MAX_CHARS)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, indent=2)
        return value

    def clean(self, value):
        text = super().clean(value)  # length and NUL checks on the raw text
        if not text.strip():
            return {}
        try:
            parsed = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        except (ValueError, RecursionError) as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError("Options must be a JSON object, for example {}.")
        if _has_nul(parsed):
            raise forms.ValidationError("Options cannot contain a \\u0000 character.")
        return parsed


class ProviderForm(forms.Form):
    name = forms.SlugField(max_length=64)
    kind = forms.ChoiceField(choices=Provider.Kind.choices)
    base_url = forms.CharField(max_length=500, required=False, label="Base URL")
    api_key_env = forms.CharField(
        max_length=128,
        required=False,
        label="API key environment variable",
        help_text="The name of the environment variable holding the key, never the key itself.",
        validators=[validate_env_var_name],
    )
    options = JsonObjectField(help_text='A JSON object, for example {} or {"dataset": "<name>"}.')
    enabled = forms.BooleanField(required=False, initial=True)


PRICE = {"min_value": 0, "max_digits": 12, "decimal_places": 6}
TOKENS = {"min_value": 1, "max_value": PG_INT_MAX}


class RegisteredModelForm(forms.Form):
    """A model of a provider; the name avoids `ModelForm`, which it is not."""

    provider = forms.ModelChoiceField(queryset=Provider.objects.all())
    model_id = forms.CharField(max_length=200, label="Provider's model id")
    display_name = forms.CharField(max_length=200, required=False)
    tier = forms.ChoiceField(choices=Model.Tier.choices, initial=Model.Tier.MID)
    input_price_per_mtok = forms.DecimalField(label="Input price per million tokens (USD)", **PRICE)
    output_price_per_mtok = forms.DecimalField(label="Output price per million tokens (USD)", **PRICE)
    context_window = forms.IntegerField(**TOKENS)
    max_output_tokens = forms.IntegerField(**TOKENS)
    supports_vision = forms.BooleanField(required=False)
    supports_tools = forms.BooleanField(required=False)
    supports_json_mode = forms.BooleanField(required=False, label="Supports JSON mode")
    supports_embeddings = forms.BooleanField(
        required=False, label="Embedding model", help_text="Serves /v1/embeddings, never chat."
    )
    quality_estimate = forms.FloatField(
        required=False,
        min_value=0.0,
        max_value=1.0,
        label="Quality prior",
        help_text="A prior quality in [0, 1], for example a benchmark accuracy.",
    )
    enabled = forms.BooleanField(required=False, initial=True)


class EnabledForm(forms.Form):
    """The enable / disable button: an explicit target state, so a double submit changes nothing."""

    enabled = forms.TypedChoiceField(choices=[("1", "enable"), ("0", "disable")], coerce=lambda v: v == "1")


def initial_of(row, form_class: type[forms.Form]) -> dict[str, Any]:
    """The form's initial values from a row: its field values, foreign keys as rows."""
    return {name: getattr(row, name) for name in form_class.base_fields}


def changed_fields(row, cleaned: dict[str, Any]) -> dict[str, Any]:
    """Only what differs from the row, so the audit log records real changes."""
    return {name: value for name, value in cleaned.items() if getattr(row, name) != value}
