"""Forms of the experiments web UI: they parse what a person types; services validate the meaning."""

from __future__ import annotations

from django import forms

from experiments.models import Correction, Engine, Experiment
from routing.forms import json_object
from routing.models import PolicyVersion, Route

METRICS = Experiment._meta.get_field("primary_metric").choices


class VersionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: PolicyVersion) -> str:
        return f"{obj.policy.route.name}: {obj.label} ({obj.kind})"


class ExperimentForm(forms.Form):
    route = forms.ModelChoiceField(queryset=Route.objects.all(), to_field_name="name")
    name = forms.SlugField(max_length=64)
    hypothesis = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    control = VersionChoiceField(queryset=PolicyVersion.objects.select_related("policy__route"))
    control_weight = forms.FloatField(initial=0.5)
    treatment = VersionChoiceField(queryset=PolicyVersion.objects.select_related("policy__route"))
    treatment_weight = forms.FloatField(initial=0.5)
    treatment_b = VersionChoiceField(
        queryset=PolicyVersion.objects.select_related("policy__route"),
        required=False,
        label="Second treatment",
    )
    treatment_b_weight = forms.FloatField(required=False, label="Second treatment weight")
    coverage = forms.FloatField(
        initial=1.0, help_text="Share of the route's users in the experiment, 0 to 1."
    )
    namespace = forms.SlugField(required=False, help_text="Experiments in one namespace never share a user.")
    namespace_start = forms.FloatField(initial=0.0)
    namespace_end = forms.FloatField(initial=1.0)
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
    alpha = forms.FloatField(initial=0.05)
    min_sample_per_variant = forms.IntegerField(
        initial=100,
        min_value=1,
        label="Minimum sample per variant",
        help_text="The plan raises it to the sample its power calculation needs.",
    )
    mde = forms.FloatField(
        initial=0.05,
        label="Smallest relative effect worth detecting",
        help_text="Used for the runtime estimate, e.g. 0.05 for 5%.",
    )

    def clean_targeting(self):
        return json_object(self.cleaned_data["targeting"] or "{}", "Targeting")

    def clean_guardrail_margins(self):
        return json_object(self.cleaned_data["guardrail_margins"] or "{}", "Margins")

    def variant_specs(self) -> list[dict]:
        data = self.cleaned_data
        rows = [
            ("control", data["control"], data["control_weight"]),
            ("treatment", data["treatment"], data["treatment_weight"]),
        ]
        if data.get("treatment_b"):
            rows.append(("treatment-b", data["treatment_b"], data.get("treatment_b_weight") or 0.0))
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
