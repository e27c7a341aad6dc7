"""The Celery app: Redis broker, late acknowledgement, time limits, and the beat schedule."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("routelab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic work; each task claims its rows so a double run is harmless.
app.conf.beat_schedule = {
    "flush-call-records": {"task": "routing.tasks.calls_flush_task", "schedule": 2.0},
    "refresh-analytics": {"task": "analytics.tasks.analytics_refresh_task", "schedule": 60.0},
    "weekly-reports": {
        "task": "analytics.tasks.weekly_reports_task",
        "schedule": crontab(hour=7, minute=0, day_of_week=1),
    },
}
