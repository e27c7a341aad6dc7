"""Killing a worker with SIGKILL mid-task loses no job and records no call twice."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from routing.gateway.recorder import calls_flush
from routing.models import Call, Job

pytestmark = [pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]


def _worker(name: str) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_VISIBILITY_TIMEOUT": "3",
    }
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-P",
        "solo",
        "-n",
        f"{name}@%h",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
        "-l",
        "WARNING",
    ]
    return subprocess.Popen(
        args, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


@pytest.mark.django_db(transaction=True)
def test_a_job_survives_a_worker_killed_mid_task_and_yields_one_call(client, live_route):
    sim = live_route.simulator.url
    httpx.post(f"{sim}/_sim/faults", json={"model": "gpt-4o-mini", "timeout_rate": 1.0, "timeout_seconds": 5})
    body = {"messages": [{"role": "user", "content": "What is the capital of France?"}], "execute": True}
    queued = client.post("/api/v1/route", body, content_type="application/json", **live_route.auth).json()
    first = _worker("first")
    try:
        _wait_for(lambda: Job.objects.get(id=queued["job_id"]).status == "running", 60, "the job to start")
        _wait_for(
            lambda: httpx.get(f"{sim}/_sim/stats").json()["total_requests"] > 0, 10, "the upstream call"
        )
        os.killpg(first.pid, signal.SIGKILL)  # mid-call: the task is neither finished nor acknowledged
        first.wait(10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert Job.objects.get(id=queued["job_id"]).status == "running"
    httpx.delete(f"{sim}/_sim/faults")
    # Redis gives an unacknowledged message back once its visibility timeout (3 s here) has passed; a
    # worker restores such messages when it starts polling.
    time.sleep(3.5)
    second = _worker("second")
    try:
        job = _wait_for(
            lambda: Job.objects.filter(id=queued["job_id"], status="succeeded").first(),
            90,
            "the redelivered job to finish",
        )
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(20)
    calls_flush()
    assert job.attempts == 2
    assert Call.objects.filter(id=job.call_id).count() == 1
    assert Call.objects.count() == 1
