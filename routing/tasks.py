"""Celery tasks of the routing app: thin, they take ids, load rows and call a service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from routing.gateway.jobs import job_execute
from routing.gateway.recorder import calls_flush
from routing.partitions import call_partitions_ensure, call_partitions_expire


@shared_task(acks_late=True, expires=30, ignore_result=True)
def calls_flush_task() -> int:
    """Move call records from Redis into PostgreSQL; beat runs it every few seconds, overlaps are harmless."""
    return calls_flush()


@shared_task(acks_late=True, expires=3600, ignore_result=True)
def call_partitions_ensure_task() -> list[str]:
    """Create the call table's next monthly partitions; beat runs it daily, a second run creates nothing."""
    return call_partitions_ensure()


@shared_task(acks_late=True, expires=3600, ignore_result=True)
def call_partitions_expire_task() -> list[str]:
    """Drop the call partitions past CALL_RETENTION_DAYS that the roll-ups hold; daily, idempotent."""
    return call_partitions_expire()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def job_execute_task(self, job_id: str) -> str:
    """Run an asynchronous call; redelivery and retries are harmless (the job names its one call row)."""
    outcome = job_execute(job_id=job_id, final_attempt=self.request.retries >= settings.JOB_MAX_RETRIES)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status
