"""POST /api/v1/route: the routing decision for a request, without calling the model (or, with
`execute`, a job a worker runs), and GET /api/v1/jobs/<id>. Native async views, so decisions never queue
behind Django's single thread for sync views."""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework import serializers

from routing.gateway import wire
from routing.gateway.assign import exposure_fields
from routing.gateway.body import parse_chat_body
from routing.gateway.decide import route_live_request
from routing.gateway.endpoint import key_endpoint
from routing.gateway.errors import GatewayError
from routing.gateway.jobs import job_payload
from routing.gateway.record import CallDraft, new_call_id, now_iso
from routing.gateway.threads import in_db_thread
from routing.models import Job
from routing.services import job_create


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


class JobAcceptedSerializer(DecisionSerializer):
    job_id = serializers.UUIDField()
    status = serializers.CharField()
    status_url = serializers.CharField()


class JobSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Job.Status.choices)
    attempts = serializers.IntegerField()
    call_id = serializers.CharField(help_text="the call row the job yields, 32 hex digits")
    result = serializers.DictField(allow_null=True, help_text="the chat completion, once succeeded")
    error = serializers.DictField(allow_null=True, help_text="kind and message, once failed")
    webhook_status = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


@key_endpoint(
    "POST",
    request=wire.RouteRequestSerializer,
    responses={200: DecisionSerializer, 202: JobAcceptedSerializer},
)
async def route_decision(request, *, key, snapshot):
    """Route a chat request: which model should serve it, its fallbacks, and why. With `execute`, a
    worker calls the model too (202 and a job to poll, or a signed webhook)."""
    data = parse_chat_body(request)
    routed, _, _ = await route_live_request(snapshot=snapshot, key=key, data=data)
    if data.get("execute"):
        return JsonResponse(await _enqueue(routed, data), status=202)
    return JsonResponse(await _decide(routed, data))


async def _enqueue(routed, data: dict) -> dict:
    """Route now, call later: a worker runs the call; the client polls the job or gets a webhook."""
    body = {key: value for key, value in data.items() if key not in {"execute", "webhook_url", "stream"}}
    job = await in_db_thread(job_create)(routed=routed, data=body, webhook_url=data.get("webhook_url", ""))
    return {
        "job_id": str(job.id),
        "status": job.status,
        "status_url": f"/api/v1/jobs/{job.id}",
        **_decision_body(routed, job.call_id.hex),
    }


@key_endpoint("GET", responses={200: JobSerializer})
async def job_status(request, *, key, snapshot, job_id):
    """A job's status and its result, for a key of the job's route."""
    job = await in_db_thread(Job.objects.select_related("route").filter(id=job_id).first)()
    if job is None or job.route.name not in key.route_names:
        raise GatewayError(404, f"No job {job_id} for this key.", type="not_found_error")
    return JsonResponse(job_payload(job))


async def _decide(routed, data: dict) -> dict:
    draft = CallDraft(
        id=new_call_id(),
        source="route_api",
        started_at=now_iso(),
        metadata=dict(data.get("metadata") or {}),
        routed=routed,
    )
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
