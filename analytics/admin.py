from django.contrib import admin

from analytics.models import Score
from routing.admin import ReadOnlyAdmin


@admin.register(Score)
class ScoreAdmin(ReadOnlyAdmin):
    """Scores are written by workers and by users' feedback; the admin only reads them."""

    list_display = ["call_id", "scorer", "version", "value", "status", "source", "detail", "created_at"]
    list_filter = ["scorer", "status", "source"]
    search_fields = ["call__id", "detail"]
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Score._meta.get_fields() if field.concrete]
