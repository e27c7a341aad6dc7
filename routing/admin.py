"""The Django admin: the registry's writes go through the services (validation, cache invalidation, audit);
routes, policies and keys are read here and changed where their services are (the routes UI, the API)."""

from django.contrib import admin

from routing import services
from routing.models import (
    ApiKey,
    AuditEntry,
    Call,
    Model,
    PolicyVersion,
    Provider,
    Route,
    RoutingPolicy,
    TrainedRouter,
)


def _changed(form) -> dict:
    """The model fields a person changed in an admin form, with their cleaned values."""
    return {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}


def _cleaned(form) -> dict:
    """Every model field of a new row's admin form."""
    names = {field.name for field in form._meta.model._meta.concrete_fields}
    return {name: value for name, value in form.cleaned_data.items() if name in names}


def _model_save(request, form, **fields) -> Model:
    """Every write of a model row from the admin: validated, audited, the routing caches dropped."""
    if form.instance.pk:
        model = Model.objects.get(pk=form.instance.pk)
        return services.model_update(model=model, user=request.user, **_changed(form))
    return services.model_create(user=request.user, **{**_cleaned(form), **fields})


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
        "max_output_tokens",  # required: without it a new model would fail the service's validation
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
        if change:
            saved = services.provider_update(
                provider=Provider.objects.get(pk=obj.pk), user=request.user, **_changed(form)
            )
        else:
            saved = services.provider_create(user=request.user, **_cleaned(form))
        obj.pk = saved.pk

    def delete_model(self, request, obj: Provider) -> None:
        services.provider_delete(provider=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for provider in queryset:
            services.provider_delete(provider=provider, user=request.user)

    def save_formset(self, request, form, formset, change: bool) -> None:
        # the admin's history message reads these three lists, which formset.save() would have set
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline in formset.forms:
            if inline in formset.deleted_forms:
                if inline.instance.pk:
                    services.model_delete(model=inline.instance, user=request.user)
                    formset.deleted_objects.append(inline.instance)
            elif inline.has_changed():
                new = inline.instance.pk is None
                saved = _model_save(request, inline, provider=form.instance)
                if new:
                    formset.new_objects.append(saved)
                else:
                    formset.changed_objects.append((saved, inline.changed_data))


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
        obj.pk = _model_save(request, form).pk

    def delete_model(self, request, obj: Model) -> None:
        services.model_delete(model=obj, user=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for model in queryset:
            services.model_delete(model=model, user=request.user)


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


ROUTER_HIDDEN = ("state", "heldout_hashes")  # the fitted arrays and the held-out hashes: large


@admin.register(TrainedRouter)
class TrainedRouterAdmin(ReadOnlyAdmin):
    """Read-only: a trained version is immutable; train the next one with train_router or /routers/."""

    list_display = ["name", "version", "family", "embedding_model", "created_by", "created_at"]
    list_filter = ["family"]
    search_fields = ["name"]
    exclude = list(ROUTER_HIDDEN)
    readonly_fields = [f.name for f in TrainedRouter._meta.fields if f.name not in ROUTER_HIDDEN]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("state", "heldout_hashes")
