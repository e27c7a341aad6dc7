"""Asynchronous calls: `POST /api/v1/route` with `"execute": true` hands the call to a Celery worker.

A job names the call row it will yield (`call_id`), so however often its task is delivered (a worker
killed mid-task, a retry), the call is recorded once. The task claims the job with a conditional update;
a finished job is never run again. A retryable failure is retried with backoff; the last failure, or a
permanent one, ends the job `failed` with its error. An optional webhook, signed, reports the outcome.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from routing.gateway.assign import Exposure
from routing.gateway.decide import Paid, Routed, decide, route_request_from_chat
from routing.gateway.execute import ExecutionFailed, call_budget, execute
from routing.gateway.record import CallDraft, now_iso
from routing.gateway.snapshot import KeyEntry, snapshot_cache
from routing.gateway.wire import chat_request_from, completion_body
from routing.models import Job
from routing.policies.types import Decision

logger = logging.getLogger(__name__)
RETRY_BASE_SECONDS = 2.0


@dataclass(frozen=True)
class JobOutcome:
    status: str
    retry_in: float | None = None


def _claim(job_id) -> Job | None:
    claimed = Job.objects.filter(id=job_id, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).update(
        status=Job.Status.RUNNING,
        attempts=F("attempts") + 1,
        started_at=Coalesce("started_at", timezone.now()),
    )
    return Job.objects.select_related("route").get(id=job_id) if claimed else None


def _routed(job: Job):
    snapshot = snapshot_cache.get()
    policy = snapshot_cache.policy(job.policy_version_id)
    route = snapshot.routes[job.route.name]
    exposure = Exposure(**job.exposure) if job.exposure else None
    key = KeyEntry(job.api_key_id, "", frozenset({route.name}), False)
    return snapshot, policy, route, exposure, key


async def _run(job: Job, final: bool, prepared: tuple):
    """Decide and execute on the event loop; returns (completion body, None) or (None, the failure)."""
    snapshot, policy, route, exposure, key = prepared
    chat = chat_request_from(job.request)
    request = route_request_from_chat(chat, dict(job.request.get("metadata") or {}))
    if job.decision:  # the decision the client was answered with, and what it cost to make
        decision = Decision.from_json(job.decision)
        overhead = tuple(Paid.from_json(paid) for paid in job.routing_spend)
    else:
        decision, overhead = await decide(snapshot, route, policy, request)
    routed = Routed(snapshot, key, route, policy, decision, job.user_hash, exposure, overhead)
    draft = CallDraft(
        id=job.call_id.hex,
        source="job",
        started_at=now_iso(),
        routed=routed,
        prompt=request.text,
        metadata=dict(job.request.get("metadata") or {}),
    )
    try:
        execution = await execute(snapshot, decision, chat, request, call_budget(route))
    except ExecutionFailed as exc:
        if exc.error is not None and exc.error.retryable and not final:
            return None, exc
        await draft.finish_failed(exc, exc.kind, str(exc))
        return None, exc
    await draft.finish_ok(execution)
    return completion_body(
        call_id=draft.id, result=execution.result, extra={"model": execution.model.key}
    ), None


def job_execute(*, job_id, final_attempt: bool) -> JobOutcome:
    """Run a job once more (the worker's part); safe to call for a job that is already finished."""
    job = _claim(job_id)
    if job is None:
        return JobOutcome(status="already finished")
    body, error = async_to_sync(_run)(job, final_attempt, _routed(job))
    if body is None and error.error is not None and error.error.retryable and not final_attempt:
        delay = error.error.retry_after or RETRY_BASE_SECONDS * 2 ** (job.attempts - 1)
        return JobOutcome(status=Job.Status.RUNNING, retry_in=delay)
    return _finish(job, body, error)


def _finish(job: Job, body: dict | None, error: ExecutionFailed | None) -> JobOutcome:
    fields = {
        "status": Job.Status.SUCCEEDED if body else Job.Status.FAILED,
        "finished_at": timezone.now(),
        "result": body,
    }
    if error is not None and body is None:
        fields.update(error_kind=error.kind, error_message=str(error)[:2000])
    Job.objects.filter(id=job.id, status=Job.Status.RUNNING).update(**fields)
    if job.webhook_url:
        job_webhook_send(job=Job.objects.get(id=job.id))
    return JobOutcome(status=fields["status"])


def webhook_signature(body: bytes, timestamp: int) -> str:
    """`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, keyed by WEBHOOK_SIGNING_SECRET."""
    secret = settings.WEBHOOK_SIGNING_SECRET.encode()
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def job_payload(job: Job) -> dict:
    error = (
        {"kind": job.error_kind, "message": job.error_message} if job.status == Job.Status.FAILED else None
    )
    return {
        "job_id": str(job.id),
        "status": job.status,
        "attempts": job.attempts,
        "call_id": job.call_id.hex,
        "result": job.result,
        "error": error,
        "webhook_status": job.webhook_status or None,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def webhook_refusal(url: str) -> str | None:
    """Why the workers will not POST to `url`, or None: unless private networks are allowed, every
    address its host resolves to must be a public one (not loopback, private, link-local or reserved)."""
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return None
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        return f"{parts.hostname} does not resolve: {exc}"
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            return f"{parts.hostname} resolves to {address}, which is not a public address"
    return None


def job_webhook_send(*, job: Job) -> bool:
    refusal = webhook_refusal(job.webhook_url)
    if refusal is not None:
        logger.warning("job %s: webhook not sent: %s", job.id, refusal)
        Job.objects.filter(id=job.id).update(webhook_status="refused")
        return False
    body = json.dumps(job_payload(job), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Routelab-Signature": webhook_signature(body, int(time.time())),
    }
    for attempt in range(3):
        try:
            response = httpx.post(
                job.webhook_url, content=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT
            )
            if response.status_code < 300:
                Job.objects.filter(id=job.id).update(webhook_status="sent")
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5 * 2**attempt)
    Job.objects.filter(id=job.id).update(webhook_status="failed")
    return False
