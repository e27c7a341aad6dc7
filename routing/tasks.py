"""Celery tasks of the routing app: thin, they take ids, load rows and call a service."""

from __future__ import annotations

from dataclasses import asdict

from celery import shared_task

from routing import selectors, services
from routing.providers.base import ChatRequest, ProviderError


@shared_task(bind=True, acks_late=True, max_retries=3, expires=3600)
def model_complete_task(self, model_pk: int, messages: list[dict], max_tokens: int | None = None) -> dict:
    """Call one registered model; retry retryable provider errors with backoff, fail permanent ones."""
    model = selectors.model_list().get(pk=model_pk)
    request = ChatRequest(messages=tuple(messages), max_tokens=max_tokens)
    try:
        result = services.model_complete(model=model, request=request)
    except ProviderError as exc:
        if exc.retryable:
            raise self.retry(exc=exc, countdown=exc.retry_after or 2**self.request.retries) from exc
        raise
    return {**asdict(result), "cost": str(result.cost)}


@shared_task(acks_late=True, expires=30, ignore_result=True)
def calls_flush_task() -> int:
    """Move call records from Redis into PostgreSQL; beat runs it every few seconds, overlaps are harmless."""
    from routing.recorder import calls_flush

    return calls_flush()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def job_execute_task(self, job_id: str) -> str:
    """Run an asynchronous call; redelivery and retries are harmless (the job names its one call row)."""
    from django.conf import settings

    from routing.jobs import job_execute

    outcome = job_execute(job_id=job_id, final_attempt=self.request.retries >= settings.JOB_MAX_RETRIES)
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return outcome.status
