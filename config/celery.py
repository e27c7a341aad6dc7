"""The Celery app: Redis broker, late acknowledgement, time limits, queues and the beat schedule.

Three queues, so recording never waits behind scoring: `calls` moves call records from Redis into
PostgreSQL (a worker of its own in production, see docker-compose.yml), `scoring` runs the scorers and
LLM judges, and the default queue everything else (asynchronous jobs, evaluations, training, roll-ups,
reports). A worker started without `-Q` consumes all three.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_ready
from kombu import Queue

from config.env import env_float

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

DEFAULT_QUEUE = "routelab"
CALLS_QUEUE = "calls"
SCORING_QUEUE = "scoring"
QUEUES = (DEFAULT_QUEUE, CALLS_QUEUE, SCORING_QUEUE)

app = Celery("routelab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = DEFAULT_QUEUE
app.conf.task_queues = [Queue(name) for name in QUEUES]
app.conf.task_routes = {
    "routing.tasks.calls_flush_task": {"queue": CALLS_QUEUE},
    "analytics.tasks.score_calls_task": {"queue": SCORING_QUEUE},
}
app.autodiscover_tasks()

# How often beat folds new calls and scores into the roll-ups the reports read (the demo uses 5).
ANALYTICS_REFRESH_SECONDS = env_float("ANALYTICS_REFRESH_SECONDS", 60.0, minimum=1.0)

# Periodic work; each task claims its rows so a double run is harmless.
app.conf.beat_schedule = {
    "flush-call-records": {"task": "routing.tasks.calls_flush_task", "schedule": 2.0},
    "refresh-analytics": {
        "task": "analytics.tasks.analytics_refresh_task",
        "schedule": ANALYTICS_REFRESH_SECONDS,
    },
    "call-partitions-ensure": {
        "task": "routing.tasks.call_partitions_ensure_task",
        "schedule": crontab(hour=3, minute=10),
    },
    "call-partitions-expire": {
        "task": "routing.tasks.call_partitions_expire_task",
        "schedule": crontab(hour=3, minute=40),
    },
    "weekly-reports": {
        "task": "analytics.tasks.weekly_reports_task",
        "schedule": crontab(hour=7, minute=0, day_of_week=1),
    },
}


@worker_ready.connect
def _wake_threaded_consumer(sender=None, **kwargs) -> None:
    """A thread-pool worker acknowledges and fetches only when its event loop wakes, which with
    `acks_late` and a prefetch of one leaves it idle up to ten seconds between batches (celery#6941).
    A no-op timer wakes the loop every 0.1 s; prefork and solo workers do not need it."""
    pool = getattr(sender, "pool", None)
    if pool is not None and type(pool).__module__ == "celery.concurrency.thread":
        sender.timer.call_repeatedly(0.1, _noop)


def _noop() -> None:
    return None
