"""The Django admin: the registry's writes go through the services (validation, cache invalidation);
routes, policies and keys are read here and changed where their services are (the routes UI, the API)."""

from django.contrib import admin

from routing import services
from routing.models import ApiKey, AuditEntry, Call, Model, PolicyVersion, Provider, Route, RoutingPolicy


class ModelInline(admin.TabularInline):
    model = Model
    extra = 0
    fields = [
        "model_id",
        "display_name",
        "tier",
        "input_price_per_mtok",
        "output_price_per_mtok",
        "context_window",
        "enabled",
    ]


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "base_url", "api_key_env", "api_key_configured", "enabled"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name", "base_url"]
    inlines = [ModelInline]

    @admin.display(boolean=True, description="key set")
    def api_key_configured(self, obj: Provider) -> bool:
        return obj.api_key_configured

    def save_model(self, request, obj: Provider, form, change: bool) -> None:
        services.provider_update(provider=obj)  # validates, saves, invalidates every process's snapshot

    def save_formset(self, request, form, formset, change: bool) -> None:
        for model in formset.save(commit=False):
            services.model_update(model=model)
        for model in formset.deleted_objects:
            services.model_delete(model=model)


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "provider",
        "model_id",
        "tier",
        "input_price_per_mtok",
        "output_price_per_mtok",
        "context_window",
        "max_output_tokens",
        "supports_vision",
        "supports_tools",
        "enabled",
    ]
    list_filter = ["provider", "tier", "enabled", "supports_vision", "supports_tools"]
    search_fields = ["model_id", "display_name"]
    list_select_related = ["provider"]

    def save_model(self, request, obj: Model, form, change: bool) -> None:
        services.model_update(model=obj)  # validates, saves, invalidates every process's snapshot

    def delete_model(self, request, obj: Model) -> None:
        services.model_delete(model=obj)

    def delete_queryset(self, request, queryset) -> None:
        for model in queryset:
            services.model_delete(model=model)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows a service owns the changes of: shown here, changed in the routes UI or the API."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PolicyVersionInline(admin.TabularInline):
    model = PolicyVersion
    extra = 0
    fields = ["number", "kind", "note", "created_by", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Route)
class RouteAdmin(ReadOnlyAdmin):
    list_display = ["name", "live_policy", "daily_budget_usd", "enabled", "updated_at"]
    search_fields = ["name"]
    list_select_related = ["live_policy__policy"]


@admin.register(RoutingPolicy)
class RoutingPolicyAdmin(ReadOnlyAdmin):
    list_display = ["name", "route", "created_at"]
    list_filter = ["route"]
    inlines = [PolicyVersionInline]


@admin.register(PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    """Versions are immutable: they are read here and published through the policy pages and API."""

    list_display = ["__str__", "kind", "note", "created_by", "created_at"]
    list_filter = ["kind", "policy__route"]


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """Keys are created where the raw key can be shown once, and revoked, in the routes UI or the API."""

    list_display = ["name", "prefix", "created_at", "revoked_at", "last_used_at"]
    exclude = ["key_hash"]


@admin.register(Call)
class CallAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "route",
        "model_key",
        "status",
        "error_kind",
        "input_tokens",
        "output_tokens",
        "cost",
        "latency_ms",
        "started_at",
    ]
    list_filter = ["status", "source", "route", "model"]
    date_hierarchy = "started_at"
    list_select_related = ["route"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_label", "note"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_label", "note"]
