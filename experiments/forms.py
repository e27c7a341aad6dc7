"""Forms of the experiments web UI: they parse what a person types; services validate the meaning."""

from __future__ import annotations

import json
import math

from django import forms

from experiments.models import Correction, Engine, Experiment
from routing.forms import json_object
from routing.models import PolicyVersion, Route

METRICS = Experiment._meta.get_field("primary_metric").choices
HYPOTHESIS_MAX_LENGTH = 2000
MAX_SAMPLE = 10**9
WEIGHT_TOLERANCE = 1e-6
EDITABLE_ATTRIBUTES = (
    "name",
    "hypothesis",
    "coverage",
    "namespace",
    "namespace_start",
    "namespace_end",
    "primary_metric",
    "guardrail_metrics",
    "engine",
    "correction",
    "cuped",
    "capping_percentile",
    "alpha",
    "min_sample_per_variant",
)
WEIGHT_FIELDS = ("control_weight", "treatment_weight", "treatment_b_weight")


def _share(**kwargs) -> forms.FloatField:
    """A number from 0 to 1 (Django's FloatField already refuses nan, inf and overflowing numbers)."""
    return forms.FloatField(min_value=0, max_value=1, **kwargs)


def _weight(**kwargs) -> forms.FloatField:
    return forms.FloatField(
        min_value=0,
        max_value=1,
        error_messages={"min_value": "A weight is above 0 and at most 1."},
        **kwargs,
    )


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: PolicyVersion) -> str:
        return f"{obj.policy.route.name}: {obj.label} ({obj.kind})"


def _finite_json(text: str, what: str) -> dict:
    """A JSON object without NaN or Infinity, which Python's parser accepts but the database refuses."""
    value = json_object(text or "{}", what)
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise forms.ValidationError(f"{what} cannot hold NaN or Infinity.") from None
    return value


class ExperimentForm(forms.Form):
    route = forms.ModelChoiceField(queryset=Route.objects.all(), to_field_name="name")
    name = forms.SlugField(max_length=64)
    hypothesis = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=HYPOTHESIS_MAX_LENGTH
    )
    control = VersionChoiceField(queryset=PolicyVersion.objects.select_related("policy__route"))
    control_weight = _weight(initial=0.5)
    treatment = VersionChoiceField(queryset=PolicyVersion.objects.select_related("policy__route"))
    treatment_weight = _weight(initial=0.5)
    treatment_b = VersionChoiceField(
        queryset=PolicyVersion.objects.select_related("policy__route"),
        required=False,
        label="Second treatment",
    )
    treatment_b_weight = _weight(required=False, label="Second treatment weight")
    coverage = _share(initial=1.0, help_text="Share of the route's users in the experiment, 0 to 1.")
    namespace = forms.SlugField(required=False, help_text="Experiments in one namespace never share a user.")
    namespace_start = _share(initial=0.0)
    namespace_end = _share(initial=1.0)
    targeting = forms.CharField(
        required=False, initial="{}", help_text='e.g. {"feature": ["faq"], "user_tier": ["free"]}'
    )
    primary_metric = forms.ChoiceField(choices=METRICS, initial="cost")
    guardrail_metrics = forms.MultipleChoiceField(
        choices=METRICS, required=False, widget=forms.CheckboxSelectMultiple
    )
    guardrail_margins = forms.CharField(
        required=False,
        initial="{}",
        label="Guardrail margins",
        help_text='Non-inferiority margin per guardrail, e.g. {"latency": 0.05} allows 5% worse latency.',
    )
    engine = forms.ChoiceField(
        choices=[("", "Default (the STATS_ENGINE setting)"), *Engine.choices], required=False
    )
    correction = forms.ChoiceField(
        choices=[("", "Default (the STATS_CORRECTION setting)"), *Correction.choices], required=False
    )
    cuped = forms.BooleanField(
        required=False,
        initial=True,
        label="CUPED",
        help_text="Adjust each metric by the users' pre-exposure values where they exist.",
    )
    capping_percentile = forms.FloatField(
        required=False,
        min_value=0.5,
        max_value=1.0,
        label="Capping percentile",
        help_text="Cap each user's cost and latency at this percentile of users, e.g. 0.99. Blank: none.",
    )
    alpha = forms.FloatField(
        initial=0.05,
        min_value=0.001,
        max_value=0.5,
        help_text="The false-positive rate, from 0.001 to 0.5.",
    )
    min_sample_per_variant = forms.IntegerField(
        initial=100,
        min_value=1,
        max_value=MAX_SAMPLE,
        label="Minimum sample per variant",
        help_text="The plan raises it to the sample its power calculation needs.",
    )
    mde = forms.FloatField(
        initial=0.05,
        min_value=0.001,
        max_value=10,
        label="Smallest relative effect worth detecting",
        help_text="Used for the runtime estimate, e.g. 0.05 for 5%; from 0.001 to 10.",
    )

    def clean(self):
        data = super().clean()
        self._weights_check(data)
        start, end = data.get("namespace_start"), data.get("namespace_end")
        if start is not None and end is not None and not start < end:
            self.add_error("namespace_end", "The range is [start, end): the end must be above the start.")
        return data

    def _weights_check(self, data: dict) -> None:
        """Each weight above 0 (the field bounds it to 1), a weight for a second treatment and a sum of 1."""
        if data.get("treatment_b") and data.get("treatment_b_weight") is None:
            self.add_error("treatment_b_weight", "Give the second treatment a weight, or remove it.")
        elif not data.get("treatment_b") and data.get("treatment_b_weight") is not None:
            self.add_error("treatment_b", "Choose the second treatment this weight is for, or clear it.")
        used = WEIGHT_FIELDS if data.get("treatment_b") else WEIGHT_FIELDS[:2]
        for name in used:
            if data.get(name) == 0:
                self.add_error(name, "A weight is above 0 and at most 1.")
        weights = [data.get(name) for name in used]
        if any(name in self.errors for name in used) or None in weights:
            return
        total = math.fsum(weights)
        if abs(total - 1) > WEIGHT_TOLERANCE:
            message = f"The weights sum to {total:.6g}; they must sum to 1."
            for name in used:
                self.add_error(name, message)

    def clean_targeting(self):
        return _finite_json(self.cleaned_data["targeting"], "Targeting")

    def clean_guardrail_margins(self):
        return _finite_json(self.cleaned_data["guardrail_margins"], "Margins")

    def variant_specs(self) -> list[dict]:
        data = self.cleaned_data
        rows = [
            ("control", data["control"], data["control_weight"]),
            ("treatment", data["treatment"], data["treatment_weight"]),
        ]
        if data.get("treatment_b"):
            rows.append(("treatment-b", data["treatment_b"], data["treatment_b_weight"]))
        return [{"key": key, "policy_version": version, "weight": weight} for key, version, weight in rows]

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "route": data["route"],
            "name": data["name"],
            "hypothesis": data["hypothesis"],
            "variants": self.variant_specs(),
            "coverage": data["coverage"],
            "namespace": data["namespace"],
            "namespace_range": (data["namespace_start"], data["namespace_end"]),
            "targeting": data["targeting"],
            "primary_metric": data["primary_metric"],
            "guardrail_metrics": data["guardrail_metrics"],
            "guardrail_margins": data["guardrail_margins"],
            "engine": data["engine"],
            "correction": data["correction"],
            "capping_percentile": data["capping_percentile"],
            "cuped": data["cuped"],
            "alpha": data["alpha"],
            "min_sample_per_variant": data["min_sample_per_variant"],
        }


def experiment_initial(experiment: Experiment) -> dict:
    """The form's values for editing `experiment` (its variants by position: control, treatment, second)."""
    initial = {
        "route": experiment.route.name,
        **{name: getattr(experiment, name) for name in EDITABLE_ATTRIBUTES},
        "targeting": json.dumps(experiment.targeting or {}),
        "guardrail_margins": json.dumps(experiment.guardrail_margins or {}),
    }
    slots = ("control", "treatment", "treatment_b")
    for slot, variant in zip(slots, experiment.variants.order_by("position"), strict=False):
        initial[slot], initial[f"{slot}_weight"] = variant.policy_version_id, variant.weight
    return initial


class CoverageForm(forms.Form):
    coverage = forms.FloatField(min_value=0, max_value=1)


class PromoteForm(forms.Form):
    variant = forms.CharField()
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    override_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Why promote although the verdict is not ship",
    )


class RollbackForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
