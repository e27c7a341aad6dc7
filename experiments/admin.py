"""Datasets are written by `manage.py import_dataset`; the admin browses them and only toggles exclusion."""

from django.contrib import admin

from experiments.models import Dataset, DatasetItem, RecordedAnswer


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "item_count", "model_count", "quality_scale", "created_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["name", "source", "quality_scale", "model_names", "item_count", "created_at"]
    fields = ["name", "description", *readonly_fields[1:]]

    def has_add_permission(self, request) -> bool:
        return False

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

    @admin.display(description="prompt")
    def short_prompt(self, item: DatasetItem) -> str:
        return item.prompt if len(item.prompt) <= 100 else item.prompt[:99] + "…"
