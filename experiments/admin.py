"""Datasets are written by `manage.py import_dataset`; the admin browses them, and edits a dataset's
description and an item's exclusion through the dataset services (audited).

Experiments and promotions change through their services (validated, locked, audited), from the web UI
or the REST API; the admin shows them and edits only the hypothesis, through its service.
"""

from django.contrib import admin

from experiments import services
from experiments.models import (
    Dataset,
    DatasetItem,
    Experiment,
    ExperimentPhase,
    Promotion,
    RecordedAnswer,
    Variant,
)
from routing.admin import ReadOnlyAdmin


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "item_count", "model_count", "quality_scale", "created_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["name", "source", "quality_scale", "model_names", "item_count", "created_at"]
    fields = ["name", "description", *readonly_fields[1:]]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # `manage.py import_dataset --replace` replaces a dataset whole

    def save_model(self, request, obj: Dataset, form, change) -> None:
        services.dataset_describe(dataset=obj, description=obj.description, user=request.user)

    @admin.display(description="models")
    def model_count(self, dataset: Dataset) -> int:
        return len(dataset.model_names or [])


class RecordedAnswerInline(admin.TabularInline):
    model = RecordedAnswer
    fields = ["model_name", "quality", "answer"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DatasetItem)
class DatasetItemAdmin(admin.ModelAdmin):
    list_display = ["position", "dataset", "short_prompt", "category", "excluded"]
    list_filter = ["dataset", "excluded"]
    list_select_related = ["dataset"]
    search_fields = ["prompt", "=prompt_hash"]
    readonly_fields = ["dataset", "position", "prompt", "prompt_hash", "reference", "category", "metadata"]
    fields = [*readonly_fields, "excluded"]
    inlines = [RecordedAnswerInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: DatasetItem, form, change) -> None:
        services.dataset_item_exclude(item=obj, excluded=obj.excluded, user=request.user)

    @admin.display(description="prompt")
    def short_prompt(self, item: DatasetItem) -> str:
        return item.prompt if len(item.prompt) <= 100 else item.prompt[:99] + "…"


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class VariantInline(ReadOnlyInline):
    model = Variant
    fields = ["position", "key", "policy_version", "weight"]
    readonly_fields = fields


class PhaseInline(ReadOnlyInline):
    model = ExperimentPhase
    fields = ["number", "seed", "coverage", "weights", "started_at", "ended_at", "reason"]
    readonly_fields = fields


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "route", "status", "coverage", "phase", "primary_metric", "created_at"]
    list_filter = ["status", "route"]
    list_select_related = ["route"]
    search_fields = ["name", "hypothesis"]
    readonly_fields = [
        "route",
        "name",
        "status",
        "coverage",
        "seed",
        "hash_version",
        "namespace",
        "namespace_start",
        "namespace_end",
        "targeting",
        "primary_metric",
        "guardrail_metrics",
        "alpha",
        "min_sample_per_variant",
        "phase",
        "winner",
        "created_by",
        "created_at",
        "started_at",
        "ended_at",
    ]
    fields = ["route", "name", "hypothesis", *readonly_fields[2:]]
    inlines = [VariantInline, PhaseInline]

    def has_add_permission(self, request) -> bool:
        return False

    def save_model(self, request, obj: Experiment, form, change) -> None:
        services.experiment_hypothesis_set(experiment=obj, hypothesis=obj.hypothesis, user=request.user)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Promotion)
class PromotionAdmin(ReadOnlyAdmin):
    list_display = ["experiment", "variant", "route", "promoted_by", "promoted_at", "rolled_back_at"]
    list_filter = ["route"]
    list_select_related = ["experiment__route", "variant", "route", "promoted_by"]
    search_fields = ["reason", "experiment__name"]
    readonly_fields = [field.name for field in Promotion._meta.fields]
