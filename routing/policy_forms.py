"""Forms for the common policy kinds: a person picks models and numbers, the form writes the JSON spec.

Each form's `spec()` is the spec it stands for; the services validate it like any typed-in spec, so a
guided form can never publish what the JSON view could not.
"""

from __future__ import annotations

from django import forms

from routing.models import Model, TrainedRouter

KINDS = {
    "complexity": "Complexity: simple, moderate and complex requests to their own models",
    "rules": "Rules: a default model, with keyword and feature rules",
    "cascade": "Cascade: try the cheap model first, escalate when its answer looks weak",
    "cost_aware": "Cost-aware: the cheapest model that meets a quality bar",
    "learned": "Learned: a trained router picks the weak or the strong model",
}


class ModelChoice(forms.ModelChoiceField):
    def __init__(self, **kwargs):
        super().__init__(queryset=Model.objects.none(), to_field_name="id", **kwargs)

    def label_from_instance(self, obj: Model) -> str:
        return f"{obj.key} ({obj.tier})"


class ModelsChoice(forms.ModelMultipleChoiceField):
    def __init__(self, **kwargs):
        super().__init__(
            queryset=Model.objects.none(), widget=forms.SelectMultiple(attrs={"size": 4}), **kwargs
        )

    def label_from_instance(self, obj: Model) -> str:
        return f"{obj.key} ({obj.tier})"


def _words(text: str) -> list[str]:
    return [word.strip() for word in text.split(",") if word.strip()]


class KindForm(forms.Form):
    name = forms.SlugField(max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        enabled = Model.objects.filter(enabled=True, provider__enabled=True).select_related("provider")
        for field in self.fields.values():
            if isinstance(field, ModelChoice | ModelsChoice):
                field.queryset = enabled

    def spec(self) -> dict:
        raise NotImplementedError


class ComplexityForm(KindForm):
    simple = ModelsChoice(help_text="Models for simple requests, first choice first.")
    moderate = ModelsChoice()
    complex = ModelsChoice()
    moderate_threshold = forms.FloatField(min_value=0, max_value=1, initial=0.25)
    complex_threshold = forms.FloatField(min_value=0, max_value=1, initial=0.6)

    def clean(self):
        data = super().clean()
        low, high = data.get("moderate_threshold"), data.get("complex_threshold")
        if low is not None and high is not None and low >= high:
            self.add_error("complex_threshold", "must be above the moderate threshold")
        return data

    def spec(self) -> dict:
        data = self.cleaned_data
        return {
            "kind": "complexity",
            "tiers": {tier: [m.key for m in data[tier]] for tier in ("simple", "moderate", "complex")},
            "thresholds": {"moderate": data["moderate_threshold"], "complex": data["complex_threshold"]},
        }


class RulesForm(KindForm):
    default = ModelChoice(help_text="Requests no rule matches go here.")
    keywords = forms.CharField(
        required=False, max_length=500, help_text="Comma-separated, e.g. prove, step by step"
    )
    keywords_model = ModelChoice(required=False, label="Model for those keywords")
    features = forms.CharField(
        required=False, max_length=500, help_text="metadata.feature values, comma-separated"
    )
    features_model = ModelChoice(required=False, label="Model for those features")

    def clean(self):
        data = super().clean()
        for words, model in (("keywords", "keywords_model"), ("features", "features_model")):
            if _words(data.get(words) or "") and not data.get(model):
                self.add_error(model, f"choose the model the {words} send requests to")
        return data

    def spec(self) -> dict:
        data = self.cleaned_data
        rules = [
            {"name": words, "when": {words: _words(data[words])}, "model": data[model].key}
            for words, model in (("keywords", "keywords_model"), ("features", "features_model"))
            if _words(data[words])
        ]
        return {"kind": "rules", "rules": rules, "default": data["default"].key}


class CascadeForm(KindForm):
    first = ModelChoice(label="Try first (cheap)")
    second = ModelChoice(label="Escalate to")
    third = ModelChoice(required=False, label="Then to")
    threshold = forms.FloatField(
        min_value=0, max_value=1, initial=0.7, help_text="Confidence an answer needs."
    )

    def spec(self) -> dict:
        data = self.cleaned_data
        chain = [data[step].key for step in ("first", "second", "third") if data.get(step)]
        return {"kind": "cascade", "chain": chain, "threshold": data["threshold"], "check": "heuristic"}


class CostAwareForm(KindForm):
    min_quality = forms.FloatField(min_value=0, max_value=1, initial=0.8)
    expected_output_tokens = forms.IntegerField(min_value=1, max_value=1_000_000, initial=300)

    def spec(self) -> dict:
        data = self.cleaned_data
        return {
            "kind": "cost_aware",
            "min_quality": data["min_quality"],
            "expected_output_tokens": data["expected_output_tokens"],
        }


class LearnedForm(KindForm):
    router = forms.ModelChoiceField(queryset=TrainedRouter.objects.all(), to_field_name="id")
    weak = ModelChoice()
    strong = ModelChoice()
    threshold = forms.FloatField(
        min_value=-1,
        max_value=1,
        initial=0.1,
        help_text="The strong model's predicted gain that sends a request to it.",
    )

    def spec(self) -> dict:
        data = self.cleaned_data
        return {
            "kind": "learned",
            "router": data["router"].label,
            "models": [data["weak"].key, data["strong"].key],
            "threshold": data["threshold"],
        }


FORMS: dict[str, type[KindForm]] = {
    "complexity": ComplexityForm,
    "rules": RulesForm,
    "cascade": CascadeForm,
    "cost_aware": CostAwareForm,
    "learned": LearnedForm,
}
