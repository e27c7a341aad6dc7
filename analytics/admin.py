from django.contrib import admin

from analytics.models import Score


@admin.register(Score)
class ScoreAdmin(admin.ModelAdmin):
    """Scores are written by workers and by users' feedback; the admin only reads them."""

    list_display = ["call_id", "scorer", "version", "value", "status", "source", "detail", "created_at"]
    list_filter = ["scorer", "status", "source"]
    search_fields = ["call__id", "detail"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Score._meta.get_fields() if field.concrete]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
