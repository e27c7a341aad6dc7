"""POST /api/v1/route: the routing decision for a request, without calling the model.

Served by a native async view (`route_decision`) so decisions never queue behind Django's single thread
for sync views; `RouteDecisionApi` describes the same operation to the OpenAPI schema.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from routing.gateway import wire
from routing.gateway.assign import exposure_fields
from routing.gateway.authenticate import authenticate
from routing.gateway.body import parse_chat_body
from routing.gateway.decide import route_live_request
from routing.gateway.errors import GatewayError
from routing.gateway.jobs import job_payload
from routing.gateway.record import CallDraft, new_call_id, now_iso
from routing.gateway.snapshot import snapshot_cache
from routing.models import Job
from routing.services import job_create


class ErrorSerializer(serializers.Serializer):
    error = serializers.DictField()


class DecisionSerializer(serializers.Serializer):
    decision_id = serializers.CharField()
    route = serializers.CharField()
    model = serializers.CharField(help_text="`<provider>/<model id>` of the chosen model")
    provider = serializers.CharField()
    provider_model_id = serializers.CharField()
    fallbacks = serializers.ListField(child=serializers.CharField())
    policy_version = serializers.CharField()
    policy_kind = serializers.CharField()
    tier = serializers.CharField(allow_null=True)
    trace = serializers.ListField(child=serializers.CharField())
    experiment = serializers.CharField(allow_null=True, help_text="the experiment the user is in, if any")
    variant = serializers.CharField(allow_null=True)
    phase = serializers.IntegerField(allow_null=True)


class RouteDecisionApi(APIView):
    """Authenticated by a route API key (`Authorization: Bearer rl_...`), not by a staff session."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=wire.ChatInputSerializer,
        responses={200: DecisionSerializer, 400: ErrorSerializer, 401: ErrorSerializer, 404: ErrorSerializer},
        description="Route a chat request: which model should serve it, its fallbacks, and why.",
    )
    def post(self, request):  # pragma: no cover - documentation only; route_decision serves the path
        raise NotImplementedError


@csrf_exempt
async def route_decision(request):
    if request.method != "POST":
        return JsonResponse(wire.error_body("Use POST."), status=405, headers={"Allow": "POST"})
    try:
        data = parse_chat_body(request)
        if data.get("execute"):
            return JsonResponse(await _enqueue(request.headers.get("Authorization"), data), status=202)
        return JsonResponse(await _decide(request.headers.get("Authorization"), data))
    except GatewayError as exc:
        return JsonResponse(wire.error_body(exc.message, type=exc.type, param=exc.param), status=exc.status)


route_decision.cls = RouteDecisionApi
route_decision.initkwargs = {}


async def _enqueue(authorization: str | None, data: dict) -> dict:
    """Route now, call later: a worker runs the call; the client polls the job or gets a webhook."""
    routed, _, _ = await route_live_request(authorization=authorization, data=data)
    body = {key: value for key, value in data.items() if key not in {"execute", "webhook_url", "stream"}}
    job = await sync_to_async(job_create)(routed=routed, data=body, webhook_url=data.get("webhook_url", ""))
    return {
        "job_id": str(job.id),
        "status": job.status,
        "status_url": f"/api/v1/jobs/{job.id}",
        **_decision_body(routed, job.call_id.hex),
    }


@csrf_exempt
async def job_status(request, job_id):
    """GET /api/v1/jobs/<id>: a job's status and result, for a key of the job's route."""
    if request.method != "GET":
        return JsonResponse(wire.error_body("Use GET."), status=405, headers={"Allow": "GET"})
    try:
        snapshot = await snapshot_cache.aget()
        key = authenticate(snapshot, request.headers.get("Authorization"))
        job = await sync_to_async(Job.objects.select_related("route").filter(id=job_id).first)()
        if job is None or job.route.name not in key.route_names:
            raise GatewayError(404, f"No job {job_id} for this key.", type="not_found_error")
    except GatewayError as exc:
        return JsonResponse(wire.error_body(exc.message, type=exc.type, param=exc.param), status=exc.status)
    return JsonResponse(job_payload(job))


async def _decide(authorization: str | None, data: dict) -> dict:
    draft = CallDraft(
        id=new_call_id(), source="route_api", started_at=now_iso(), metadata=dict(data.get("metadata") or {})
    )
    routed, _, _ = await route_live_request(authorization=authorization, data=data)
    draft.routed = routed
    await draft.finish_decided()
    return _decision_body(routed, draft.id)


def _decision_body(routed, decision_id: str) -> dict:
    decision = routed.decision
    entry = routed.snapshot.models[decision.model]
    return {
        "decision_id": decision_id,
        "route": routed.route.name,
        "model": decision.model,
        "provider": entry.key.split("/", 1)[0],
        "provider_model_id": entry.target.model_id,
        "fallbacks": list(decision.fallbacks),
        "policy_version": routed.policy.label,
        "policy_kind": decision.policy_kind,
        "tier": decision.tier,
        "trace": list(decision.trace),
        **exposure_fields(routed),
    }
