from django.contrib import admin

from routing.models import Model, Provider


class ModelInline(admin.TabularInline):
    model = Model
    extra = 0
    fields = ["model_id", "display_name", "tier", "input_price_per_mtok", "output_price_per_mtok",
              "context_window", "enabled"]


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
    list_display = ["__str__", "provider", "model_id", "tier", "input_price_per_mtok", "output_price_per_mtok",
                    "context_window", "max_output_tokens", "supports_vision", "supports_tools", "enabled"]
    list_filter = ["provider", "tier", "enabled", "supports_vision", "supports_tools"]
    search_fields = ["model_id", "display_name"]
    list_select_related = ["provider"]
