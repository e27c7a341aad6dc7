from django.contrib import admin

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
class RouteAdmin(admin.ModelAdmin):
    list_display = ["name", "live_policy", "daily_budget_usd", "enabled", "updated_at"]
    search_fields = ["name"]
    list_select_related = ["live_policy__policy"]


@admin.register(RoutingPolicy)
class RoutingPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "route", "created_at"]
    list_filter = ["route"]
    inlines = [PolicyVersionInline]


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):
    """Versions are immutable: they are read here and published through the policy pages and API."""

    list_display = ["__str__", "kind", "note", "created_by", "created_at"]
    list_filter = ["kind", "policy__route"]
    readonly_fields = ["policy", "number", "kind", "spec", "note", "created_by", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "created_at", "revoked_at", "last_used_at"]
    readonly_fields = ["prefix", "key_hash", "created_by", "created_at", "revoked_at", "last_used_at"]
    filter_horizontal = ["routes"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are created where the raw key can be shown once: the routes UI or the API


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_label", "note"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_label", "note"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
