"""POST /api/v1/calls/<call id>/feedback: a user's thumbs or 1-5 rating of one call's answer.

Authenticated by a key of the call's route (`Authorization: Bearer rl_...`), like the gateway. Call
records reach PostgreSQL a few seconds after the answer: feedback on a call still on its way is held
(202) and applied when the recorder stores the call, so no request waits for a flush.
"""

from __future__ import annotations

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from analytics import selectors, services
from analytics.models import Score
from routing.gateway.body import json_body
from routing.gateway.endpoint import key_endpoint
from routing.gateway.errors import GatewayError
from routing.gateway.recorder import recent_call_route
from routing.gateway.threads import in_db_thread
from routing.models import Call

COMMENT_MAX_CHARS = 2000


class FeedbackInputSerializer(serializers.Serializer):
    """Exactly one of `thumbs` and `rating`."""

    thumbs = serializers.ChoiceField(choices=["up", "down"], required=False)
    rating = serializers.IntegerField(min_value=1, max_value=5, required=False)
    comment = serializers.CharField(
        max_length=COMMENT_MAX_CHARS, required=False, allow_blank=True, trim_whitespace=False
    )

    def validate(self, data):
        if "thumbs" in data and "rating" in data:
            raise serializers.ValidationError({"rating": "Send thumbs or rating, not both."})
        if "thumbs" not in data and "rating" not in data:
            raise serializers.ValidationError({"thumbs": 'Send "thumbs": "up" or "down", or "rating": 1-5.'})
        return data


class ScoreOutputSerializer(serializers.ModelSerializer):
    call_id = serializers.UUIDField(format="hex", read_only=True)

    class Meta:
        model = Score
        fields = ["id", "call_id", "scorer", "version", "value", "raw", "status", "detail", "source"]
        fields += ["created_at", "updated_at"]


class PendingFeedbackSerializer(serializers.Serializer):
    call_id = serializers.CharField()
    status = serializers.CharField(default="pending")
    detail = serializers.CharField()


@key_endpoint(
    "POST",
    request=FeedbackInputSerializer,
    responses={
        201: ScoreOutputSerializer,
        200: ScoreOutputSerializer,
        202: PendingFeedbackSerializer,
    },
    description=(
        "Record a user's feedback on a call: 201 for the first, 200 when it replaces one, 202 when the "
        "call is still being recorded (the feedback is applied as soon as it is stored)."
    ),
    parameters=(
        OpenApiParameter(
            "call_id",
            str,
            OpenApiParameter.PATH,
            description="The call's id: the `decision_id` routelab returned (32 hex digits, or dashed).",
        ),
    ),
)
async def call_feedback(request, *, key, snapshot, call_id):
    feedback = _feedback_from(request)
    route_ids = {snapshot.routes[name].id for name in key.route_names if name in snapshot.routes}
    score, created = await in_db_thread(_record)(call_id, route_ids, feedback)
    if score is None:
        return JsonResponse(_pending_body(call_id), status=202)
    return JsonResponse(ScoreOutputSerializer(score).data, status=201 if created else 200)


def _pending_body(call_id) -> dict:
    detail = "The call is still being recorded; the feedback is applied as soon as it is stored."
    return {"call_id": call_id.hex, "status": "pending", "detail": detail}


def _feedback_from(request) -> dict:
    data = json_body(request)
    if not isinstance(data, dict):
        raise GatewayError(400, 'The body must be a JSON object such as {"thumbs": "up"}.')
    serializer = FeedbackInputSerializer(data=data)
    if not serializer.is_valid():
        field, messages = next(iter(serializer.errors.items()))
        raise GatewayError(400, f"{field}: {' '.join(str(m) for m in messages)}", param=field)
    return serializer.validated_data


def _record(call_id, route_ids: set[int], feedback: dict) -> tuple[Score | None, bool]:
    """The stored score and whether it is the call's first feedback, for a call of one of the key's
    routes; (None, True) when held pending."""
    kind = "thumbs" if "thumbs" in feedback else "rating"
    value, comment = feedback[kind], feedback.get("comment", "")
    call = Call.objects.filter(id=call_id).first()
    if call is None and recent_call_route(call_id.hex) in route_ids:
        services.feedback_hold(
            call_id=call_id, route_ids=sorted(route_ids), kind=kind, value=value, comment=comment
        )
        return None, True
    if call is None or call.route_id not in route_ids:
        raise GatewayError(404, f"No call {call_id.hex} for this key.", type="not_found_error")
    created = selectors.call_feedback(call=call) is None
    return services.feedback_record(call=call, kind=kind, value=value, comment=comment), created
