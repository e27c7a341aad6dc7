"""The Celery app: Redis broker, late acknowledgement, time limits, and the beat schedule."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("routelab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic work; each task claims its rows so a double run is harmless.
app.conf.beat_schedule = {
    "flush-call-records": {"task": "routing.tasks.calls_flush_task", "schedule": 2.0},
}
