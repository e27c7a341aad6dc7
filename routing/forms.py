"""Forms of the routing web UI: they parse what a person types; services validate the meaning."""

from __future__ import annotations

import json
import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from config.json_depth import depth_message, json_too_deep
from routing.models import PolicyVersion, Route


class RouteForm(forms.Form):
    name = forms.SlugField(max_length=64)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    daily_budget_usd = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=4, label="Daily budget (USD)"
    )


def form_errors_apply(form: forms.Form, exc: ValidationError) -> None:
    """A service's ValidationError shown on the form: each message beside its field, others above the form."""
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errors)


def json_object(text: str, what: str) -> dict:
    """The JSON object a person typed into a form field, or a ValidationError saying what is wrong."""
    if json_too_deep(text, settings.JSON_MAX_DEPTH):
        raise forms.ValidationError(depth_message(settings.JSON_MAX_DEPTH))
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise forms.ValidationError(f"Not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise forms.ValidationError(f"{what} must be a JSON object.")
    return value


class SpecField(forms.CharField):
    widget = forms.Textarea(attrs={"rows": 14, "spellcheck": "false"})

    def to_python(self, value):
        return json_object(super().to_python(value), "The spec")


class PolicyForm(forms.Form):
    name = forms.SlugField(max_length=64)
    spec = SpecField()


class PublishForm(forms.Form):
    spec = SpecField()
    note = forms.CharField(required=False, max_length=300)


class LivePolicyForm(forms.Form):
    version = forms.ModelChoiceField(queryset=PolicyVersion.objects.none())

    def __init__(self, *args, route: Route, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].queryset = PolicyVersion.objects.filter(policy__route=route).select_related(
            "policy"
        )


class ModelKeysField(forms.CharField):
    """Model keys typed in order, separated by commas or spaces; a list of keys in `cleaned_data`."""

    def to_python(self, value):
        return re.split(r"[\s,]+", super().to_python(value).strip()) if value and value.strip() else []

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value


class RouteLimitsForm(forms.Form):
    """A route's daily budget and each client request's bounds; empty means the gateway's default."""

    daily_budget_usd = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=4, label="Daily budget (USD)"
    )
    max_attempts = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=20,
        label="Provider requests per client request",
        help_text=Route.max_attempts.field.help_text,
    )
    deadline_seconds = forms.FloatField(
        required=False,
        min_value=0.1,
        max_value=3600,
        label="Deadline (seconds)",
        help_text=Route.deadline_seconds.field.help_text,
    )
    allowed_fallbacks = ModelKeysField(
        required=False,
        max_length=4000,
        label="Allowed fallbacks",
        help_text=Route.allowed_fallbacks.field.help_text + " Separate them with commas.",
    )


class KeyLimitsForm(forms.Form):
    """A key's limits; empty means no limit."""

    requests_per_minute = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    tokens_per_day = forms.IntegerField(
        required=False, min_value=1, max_value=2**63 - 1, help_text="Input plus output tokens, UTC days."
    )
    spend_per_day_usd = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=4, label="Spend per day (USD)"
    )


class ApiKeyForm(KeyLimitsForm):
    field_order = ["name"]
    name = forms.CharField(max_length=100)
