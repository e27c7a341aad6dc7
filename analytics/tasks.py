"""Celery tasks of the analytics app: thin, they take ids and call a service."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError, InterfaceError

from analytics.models import PendingFeedback
from analytics.reporting import analytics_refresh, weekly_reports_run
from analytics.services import call_score, feedback_apply_pending, feedback_pending_purge

DAY_SECONDS = 24 * 3600


SCORE_BATCH = 50


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(DatabaseError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
    expires=DAY_SECONDS,
    ignore_result=True,
)
def score_calls_task(call_ids: list[str]) -> int:
    """Score stored calls as their routes say; a redelivery or a retry writes nothing twice."""
    return sum(len(call_score(call_id=call_id)) for call_id in call_ids)


def score_calls_enqueue(call_ids: list[str]) -> None:
    """routing.hooks' `calls_stored`: the recorder calls it after commit with the answered calls stored."""
    for start in range(0, len(call_ids), SCORE_BATCH):
        score_calls_task.delay(call_ids[start : start + SCORE_BATCH])


@shared_task(
    acks_late=True,
    autoretry_for=(DatabaseError, InterfaceError),
    retry_backoff=2,
    max_retries=5,
    expires=DAY_SECONDS,
    ignore_result=True,
)
def feedback_apply_task(call_ids: list[str]) -> int:
    """Apply feedback that arrived before its call was stored; claimed row by row, so safe to rerun."""
    return feedback_apply_pending(call_ids=call_ids)


def feedback_pending_enqueue(call_ids: list[str]) -> None:
    """routing.hooks' `calls_stored`: held feedback on any of these calls is applied by a worker."""
    if PendingFeedback.objects.filter(call_id__in=call_ids).exists():
        feedback_apply_task.delay(call_ids)


@shared_task(acks_late=True, expires=55, ignore_result=True)
def analytics_refresh_task() -> dict:
    """Beat, every minute: fold new calls and scores into roll-ups; store today's report per experiment;
    drop feedback held for a call that never arrived."""
    feedback_pending_purge()
    return analytics_refresh()


@shared_task(acks_late=True, expires=6 * 3600, ignore_result=True)
def weekly_reports_task() -> int:
    """Beat, Mondays: build and mail each running experiment's weekly report (a second run does nothing)."""
    return len(weekly_reports_run())
