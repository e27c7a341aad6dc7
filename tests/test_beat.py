"""The beat schedule names real tasks, so periodic work actually runs."""

from config.celery import app


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_call_records_partitions_roll_ups_and_weekly_reports_are_scheduled():
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert tasks == {
        "routing.tasks.calls_flush_task",
        "routing.tasks.call_partitions_ensure_task",
        "routing.tasks.call_partitions_expire_task",
        "analytics.tasks.analytics_refresh_task",
        "analytics.tasks.weekly_reports_task",
    }
