"""The analytics API, mounted under /api/v1/ (config/urls.py)."""

import uuid

from django.urls import path, register_converter

from analytics import apis


class CallIdConverter:
    """A call id as routelab hands it out (32 hex digits, as in `decision_id`) or in the dashed form."""

    regex = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value) -> str:
        return value.hex if isinstance(value, uuid.UUID) else str(value)


register_converter(CallIdConverter, "call_id")

urlpatterns = [
    path("calls/<call_id:call_id>/feedback", apis.call_feedback, name="call-feedback"),
]
