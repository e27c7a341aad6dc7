"""Celery tasks of the experiments app: thin, they take ids and call a service."""

from __future__ import annotations

from celery import shared_task

from experiments.evaluation import runner
from experiments.services import training


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=1800, time_limit=1900)
def evaluation_run_task(evaluation_id: int) -> str:
    """Run one offline evaluation. The run claims the row (queued -> running) with a conditional update, so a
    duplicate delivery does nothing; every failure ends the evaluation `failed` with its error."""
    evaluation = runner.evaluation_run(evaluation_id=evaluation_id)
    return evaluation.status if evaluation is not None else "not claimed"


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=3600, time_limit=3700)
def router_training_task(run_id: int) -> str:
    """Train one router. The run claims its row (queued -> running), so a duplicate delivery does nothing."""
    run = training.router_training_run(run_id=run_id)
    return run.status if run is not None else "not claimed"
