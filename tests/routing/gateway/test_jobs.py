"""Asynchronous calls run by Celery workers: idempotent, retried, failed visibly, signed webhooks."""

import hashlib
import hmac
import json
import time

import httpx
import pytest
from django.test import TestCase

from devtools.serving import serve_in_thread
from routing import services
from routing.gateway.jobs import job_execute, webhook_refusal
from routing.gateway.recorder import calls_flush
from routing.models import Call, Job

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def _enqueue(client, live_route, **extra):
    body = {"messages": FRANCE, "execute": True, "user": "u-1", **extra}
    response = client.post("/api/v1/route", body, content_type="application/json", **live_route.auth)
    assert response.status_code == 202, response.content
    return response.json()


def _fault(live_route, **settings):
    httpx.post(f"{live_route.simulator.url}/_sim/faults", json=settings).raise_for_status()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_job_is_run_by_a_real_worker_and_its_result_read_back(client, live_route, celery_worker_thread):
    queued = _enqueue(client, live_route)
    assert queued["status"] == "queued" and queued["model"] == "simulator/gpt-4o-mini"
    deadline = time.monotonic() + 30
    while (job := Job.objects.get(id=queued["job_id"])).status != "succeeded":
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(0.1)
    status = client.get(queued["status_url"], **live_route.auth).json()
    assert status["status"] == "succeeded" and status["attempts"] == 1
    assert status["result"]["choices"][0]["message"]["content"]
    calls_flush()
    call = Call.objects.get()
    assert call.id.hex == queued["decision_id"] == status["call_id"]
    assert call.source == "job" and call.status == "ok" and call.answer


@pytest.mark.django_db
def test_running_a_finished_job_again_records_no_second_call(
    client, live_route, django_capture_on_commit_callbacks
):
    queued = _enqueue(client, live_route)
    assert job_execute(job_id=queued["job_id"], final_attempt=False).status == "succeeded"
    assert job_execute(job_id=queued["job_id"], final_attempt=False).status == "already finished"
    assert calls_flush() == 1
    assert Call.objects.count() == 1


@pytest.mark.django_db
def test_a_retryable_failure_is_retried_and_the_last_one_fails_visibly(client, live_route):
    _fault(live_route, model="*", error_rate=1.0)
    queued = _enqueue(client, live_route)
    outcome = job_execute(job_id=queued["job_id"], final_attempt=False)
    assert outcome.retry_in and outcome.retry_in > 0
    assert calls_flush() == 0  # nothing recorded until the job's outcome is final
    outcome = job_execute(job_id=queued["job_id"], final_attempt=True)
    assert outcome.status == "failed"
    job = Job.objects.get(id=queued["job_id"])
    assert (job.status, job.error_kind, job.attempts) == ("failed", "server_error", 2)
    calls_flush()
    assert Call.objects.get().status == "error"


@pytest.mark.django_db
def test_a_permanent_failure_fails_at_once(client, live_route):
    provider = live_route.models[0].provider
    services.model_create(
        provider=provider,
        model_id="no-such-model",
        tier="cheap",
        input_price_per_mtok=1,
        output_price_per_mtok=1,
        context_window=8000,
        max_output_tokens=1000,
    )
    route = live_route.route
    with TestCase.captureOnCommitCallbacks(execute=True):  # the invalidation at commit, for real
        services.policy_create(
            route=route,
            name="broken",
            spec={"kind": "rules", "rules": [], "default": "simulator/no-such-model", "max_fallbacks": 0},
        )
        version = route.policies.get(name="broken").versions.get()
        services.route_set_live_policy(route=route, version=version)
    queued = _enqueue(client, live_route)
    assert job_execute(job_id=queued["job_id"], final_attempt=False).status == "failed"
    assert Job.objects.get(id=queued["job_id"]).error_kind == "not_found"


@pytest.mark.django_db
def test_the_webhook_is_signed_and_sent_on_completion(client, live_route, settings):
    settings.WEBHOOK_SIGNING_SECRET = "whsec-test-only"
    received = []

    async def receiver(scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        received.append((dict(scope["headers"]), body))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with serve_in_thread(receiver) as hook:
        queued = _enqueue(client, live_route, webhook_url=f"{hook.url}/hook")
        job_execute(job_id=queued["job_id"], final_attempt=False)
    headers, body = received[0]
    # checked as a receiver would, from the documented format: t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>">
    fields = dict(part.split("=", 1) for part in headers[b"x-routelab-signature"].decode().split(","))
    assert abs(int(fields["t"]) - time.time()) < 60
    expected = hmac.new(b"whsec-test-only", f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert json.loads(body)["status"] == "succeeded"
    assert Job.objects.get(id=queued["job_id"]).webhook_status == "sent"


@pytest.mark.django_db
def test_in_production_a_webhook_into_the_private_network_is_refused_not_sent(client, live_route, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    received = []

    async def receiver(scope, receive, send):
        received.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with serve_in_thread(receiver) as hook:
        queued = _enqueue(client, live_route, webhook_url=f"{hook.url}/hook")
        assert job_execute(job_id=queued["job_id"], final_attempt=False).status == "succeeded"
    assert received == []
    job = Job.objects.get(id=queued["job_id"])
    assert job.status == "succeeded" and job.webhook_status == "refused"


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1"),
        ("http://localhost/hook", "not a public address"),
        ("http://10.1.2.3/hook", "10.1.2.3"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("http://[::1]/hook", "::1"),
        ("https://93.184.215.14/hook", None),
    ],
)
def test_webhook_addresses_must_be_public_unless_private_networks_are_allowed(settings, url, refused):
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    reason = webhook_refusal(url)
    assert reason is None if refused is None else refused in reason
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    assert webhook_refusal(url) is None


@pytest.mark.django_db
def test_a_job_is_visible_only_to_keys_of_its_route(client, live_route):
    queued = _enqueue(client, live_route)
    with TestCase.captureOnCommitCallbacks(execute=True):
        other = services.route_create(name="other")
        _, other_key = services.api_key_create(name="other", routes=[other])
    response = client.get(queued["status_url"], HTTP_AUTHORIZATION=f"Bearer {other_key}")
    assert response.status_code == 404
    assert client.get(queued["status_url"]).status_code == 401


@pytest.mark.django_db
def test_a_bad_webhook_url_is_a_400(client, live_route):
    body = {"messages": FRANCE, "execute": True, "webhook_url": "ftp://x"}
    response = client.post("/api/v1/route", body, content_type="application/json", **live_route.auth)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "webhook_url"


@pytest.mark.django_db
def test_a_job_whose_prompt_holds_a_nul_character_is_queued_run_and_recorded(client, live_route):
    body = {"messages": [{"role": "user", "content": "a\x00b"}], "execute": True}
    response = client.post("/api/v1/route", body, content_type="application/json", **live_route.auth)
    assert response.status_code == 202, response.content
    assert job_execute(job_id=response.json()["job_id"], final_attempt=False).status == "succeeded"
    calls_flush()
    assert Call.objects.get().prompt == "a\ufffdb"
