"""The Celery app: Redis broker, late acknowledgement, time limits, and the beat schedule."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_ready

from config.env import env_float

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("routelab")
app.config_from_object("django.conf:settings", namespace="CELERY")
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
