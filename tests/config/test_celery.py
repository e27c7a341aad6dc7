"""Recording and scoring run on separate Celery queues, so a scoring backlog never holds up a flush.

Against the real Redis broker: messages are read off its queue lists, and the worker is a real one."""

import json
import time

import pytest
from celery.contrib.testing.worker import start_worker

from analytics.models import Score
from analytics.tasks import score_calls_task
from config.celery import CALLS_QUEUE, DEFAULT_QUEUE, SCORING_QUEUE, app
from routing.models import Call
from routing.tasks import calls_flush_task, job_execute_task

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def _queued(queue: str) -> list[str]:
    """The task names waiting on `queue`, read from the broker's list of the same name."""
    with app.connection_for_write() as connection:
        client = connection.default_channel.client
        return [json.loads(message)["headers"]["task"] for message in client.lrange(queue, 0, -1)]


def test_the_flush_goes_to_calls_scoring_to_scoring_and_jobs_to_the_default_queue():
    calls_flush_task.delay()
    score_calls_task.delay(["0" * 32])
    job_execute_task.delay("0b3c1d3e-0000-4000-8000-000000000000")

    assert _queued(CALLS_QUEUE) == ["routing.tasks.calls_flush_task"]
    assert _queued(SCORING_QUEUE) == ["analytics.tasks.score_calls_task"]
    assert _queued(DEFAULT_QUEUE) == ["routing.tasks.job_execute_task"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_worker_on_the_calls_queue_stores_calls_while_scoring_has_a_backlog(client, live_route):
    for _ in range(30):
        score_calls_task.delay(["0" * 32])
    response = client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": FRANCE}),
        content_type="application/json",
        **live_route.auth,
    )
    assert response.status_code == 200, response.content
    assert not Call.objects.exists()  # recorded in Redis; only a flush stores it

    with start_worker(
        app,
        pool="solo",
        queues=[CALLS_QUEUE],
        perform_ping_check=False,
        shutdown_timeout=30,
        loglevel="WARNING",
    ):
        calls_flush_task.delay()
        deadline = time.monotonic() + 20
        while not Call.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    assert Call.objects.count() == 1
    backlog = _queued(SCORING_QUEUE)
    assert len(backlog) >= 30 and set(backlog) == {"analytics.tasks.score_calls_task"}
    assert not Score.objects.exists()
    assert _queued(CALLS_QUEUE) == []
