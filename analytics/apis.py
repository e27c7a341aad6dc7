"""POST /api/v1/calls/<call id>/feedback: a user's thumbs or 1-5 rating of one call's answer.

Authenticated by a key of the call's route (`Authorization: Bearer rl_...`), like the gateway, and
served by a native async view (`call_feedback`); `CallFeedbackApi` describes it to the OpenAPI schema.
Call records reach PostgreSQL a few seconds after the answer, so feedback on a call not stored yet
flushes the waiting records once and looks again.
"""

from __future__ import annotations

import json

from asgiref.sync import sync_to_async
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from analytics import selectors, services
from analytics.models import Score
from routing.apis.decisions import ErrorSerializer
from routing.gateway import wire
from routing.gateway.authenticate import authenticate
from routing.gateway.errors import GatewayError
from routing.gateway.recorder import calls_flush
from routing.gateway.snapshot import snapshot_cache
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


class CallFeedbackApi(APIView):
    """Authenticated by a route API key (`Authorization: Bearer rl_...`), not by a staff session."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=FeedbackInputSerializer,
        responses={
            201: ScoreOutputSerializer,
            200: ScoreOutputSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
        description="Record a user's feedback on a call: 201 for the first, 200 when it replaces one.",
        parameters=[
            OpenApiParameter(
                "call_id",
                str,
                OpenApiParameter.PATH,
                description="The call's id: the `decision_id` routelab returned (32 hex digits, or dashed).",
            )
        ],
    )
    def post(self, request, call_id):  # pragma: no cover - documentation only; call_feedback serves the path
        raise NotImplementedError


@csrf_exempt
async def call_feedback(request, call_id):
    if request.method != "POST":
        return JsonResponse(wire.error_body("Use POST."), status=405, headers={"Allow": "POST"})
    try:
        key = authenticate(await snapshot_cache.aget(), request.headers.get("Authorization"))
        feedback = _feedback_from(request)
        score, created = await sync_to_async(_record)(call_id, key.route_names, feedback)
    except GatewayError as exc:
        return JsonResponse(wire.error_body(exc.message, type=exc.type, param=exc.param), status=exc.status)
    return JsonResponse(ScoreOutputSerializer(score).data, status=201 if created else 200)


call_feedback.cls = CallFeedbackApi
call_feedback.initkwargs = {}


def _feedback_from(request) -> dict:
    try:
        data = json.loads(request.body or b"null")
    except RequestDataTooBig:
        raise GatewayError(413, "The request body is too large.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise GatewayError(400, f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise GatewayError(400, 'The body must be a JSON object such as {"thumbs": "up"}.')
    serializer = FeedbackInputSerializer(data=data)
    if not serializer.is_valid():
        field, messages = next(iter(serializer.errors.items()))
        raise GatewayError(400, f"{field}: {' '.join(str(m) for m in messages)}", param=field)
    return serializer.validated_data


def _record(call_id, route_names: frozenset[str], feedback: dict) -> tuple[Score, bool]:
    call = _call(call_id, route_names)
    kind = "thumbs" if "thumbs" in feedback else "rating"
    created = selectors.call_feedback(call=call) is None
    score = services.feedback_record(
        call=call, kind=kind, value=feedback[kind], comment=feedback.get("comment", "")
    )
    return score, created


def _call(call_id, route_names: frozenset[str]) -> Call:
    """The call, if it belongs to one of the key's routes; its record may still be waiting in Redis."""
    calls = Call.objects.select_related("route").filter(id=call_id)
    call = calls.first()
    if call is None and calls_flush():
        call = calls.first()
    if call is None or call.route is None or call.route.name not in route_names:
        raise GatewayError(404, f"No call {call_id.hex} for this key.", type="not_found_error")
    return call
