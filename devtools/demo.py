"""The demo's story: simulated models, an experiment, thousands of users, workers scoring, a report."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from analytics.models import Score
from analytics.reporting import analytics_refresh, report_text
from analytics.reports import experiment_report
from config.celery import QUEUES
from devtools.traffic import send_traffic
from experiments import services as experiments
from experiments.models import Experiment
from routing import services
from routing.gateway.recorder import calls_flush
from routing.models import Call, Route

ROOT = Path(__file__).resolve().parents[1]
DEMO_REFRESH_SECONDS = (
    "5"  # beat's roll-up refresh in the demo: its reports follow new traffic within seconds
)
ROUTE = "support-bot"
NAME_PREFIX = "complexity-vs-premium-"
SCORING = {"scorers": ["heuristic_confidence", "recorded_quality"]}
PREMIUM_SPEC = {"kind": "rules", "rules": [], "default": "simulator/claude-opus-4-1"}
COMPLEXITY_SPEC = {
    "kind": "complexity",
    "tiers": {
        "simple": ["simulator/gpt-4o-mini"],
        "moderate": ["simulator/gpt-4o"],
        "complex": ["simulator/claude-opus-4-1"],
    },
}


def _version(route: Route, name: str, spec: dict):
    policy = route.policies.filter(name=name).first()
    if policy is None:
        return services.policy_create(route=route, name=name, spec=spec)
    latest = policy.versions.order_by("-number").first()
    return latest if latest.spec == spec else services.policy_publish(policy=policy, spec=spec)


def experiment_setup(*, min_sample: int) -> tuple[Experiment, str]:
    """support-bot with an all-premium live policy, and a fresh experiment against complexity routing."""
    route = Route.objects.filter(name=ROUTE).first() or services.route_create(
        name=ROUTE, daily_budget_usd=200, scoring=SCORING
    )
    services.route_update(route=route, scoring=SCORING)
    premium = _version(route, "all-premium", PREMIUM_SPEC)
    complexity = _version(route, "by-complexity", COMPLEXITY_SPEC)
    services.route_set_live_policy(route=route, version=premium)
    _leftovers_clear(route)
    experiment = experiments.experiment_create(
        route=route,
        name=f"{NAME_PREFIX}{timezone.now():%Y%m%d-%H%M%S}",
        hypothesis="Complexity routing cuts cost per call without a significant loss of quality.",
        variants=[
            {"key": "control", "policy_version": premium, "weight": 0.5},
            {"key": "treatment", "policy_version": complexity, "weight": 0.5},
        ],
        primary_metric="cost",
        guardrail_metrics=["quality", "error_rate"],
        min_sample_per_variant=min_sample,
    )
    experiments.experiment_start(experiment=experiment)
    _, key = services.api_key_create(name=f"demo {timezone.now():%Y-%m-%d %H:%M:%S}", routes=[route])
    return Experiment.objects.select_related("route").get(id=experiment.id), key


def _leftovers_clear(route: Route) -> None:
    """Free the route's slot: stop what still runs, and drop drafts an interrupted demo run left behind."""
    held = (Experiment.Status.RUNNING, Experiment.Status.PAUSED)
    for running in Experiment.objects.filter(route=route, status__in=held):
        experiments.experiment_stop(experiment=running)
    drafts = Experiment.objects.filter(
        route=route, status=Experiment.Status.DRAFT, name__startswith=NAME_PREFIX
    )
    for draft in drafts:
        experiments.experiment_discard(experiment=draft)


def _worker_env() -> dict:
    env = {**os.environ, "REDIS_URL": settings.REDIS_URL}
    if settings.DATABASE_URL:  # the worker must use the very database this process uses (tests use their own)
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        env["DATABASE_URL"] = (
            f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    return env


def _celery_start(args: list[str], log_name: str, **env: str) -> subprocess.Popen:
    log = open(Path(settings.VAR_DIR) / log_name, "w")  # noqa: SIM115 - the process keeps writing it
    command = [sys.executable, "-m", "celery", "-A", "config", *args]
    env = {**_worker_env(), **env}
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def worker_start() -> subprocess.Popen:
    """A real Celery worker process (its log: var/demo-worker.log) on every queue: it stores calls, scores
    them and runs the rest."""
    args = ["worker", "-P", "threads", "-c", "4", "-l", "INFO", "-Q", ",".join(QUEUES),
            "--without-heartbeat", "--without-mingle", "--without-gossip"]  # fmt: skip
    return _celery_start(args, "demo-worker.log")


def beat_start() -> subprocess.Popen:
    """Celery beat (its log: var/demo-beat.log): it moves recorded calls into PostgreSQL every two seconds
    and refreshes the roll-ups every five, so traffic sent to the served demo reaches the reports."""
    schedule = Path(settings.VAR_DIR) / "demo-celerybeat-schedule"
    args = ["beat", "-l", "INFO", "-s", str(schedule)]
    return _celery_start(args, "demo-beat.log", ANALYTICS_REFRESH_SECONDS=DEMO_REFRESH_SECONDS)


def process_stop(process: subprocess.Popen, *, timeout: float = 30) -> None:
    """SIGTERM (a warm shutdown for Celery), then SIGKILL past the timeout."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def celery_running() -> Iterator[list[subprocess.Popen]]:
    """The worker and beat for the length of the block; both stop with it, however it ends."""
    processes = [worker_start()]
    try:
        processes.append(beat_start())
        yield processes
    finally:
        for process in processes:  # signal both first: their warm shutdowns overlap
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process_stop(process)


def traffic(*, url: str, key: str, users: int, requests_per_user: int, seed: int):
    return asyncio.run(
        send_traffic(
            base_url=url,
            key=key,
            route=ROUTE,
            users=users,
            requests_per_user=requests_per_user,
            concurrency=32,
            seed=seed,
        )
    )


def scoring_wait(experiment: Experiment, *, timeout: float, progress) -> tuple[int, int]:
    """Flush call records and wait until the worker has scored every successful call of the experiment."""
    deadline = time.monotonic() + timeout
    while True:
        calls_flush()
        ok = Call.objects.filter(experiment_id=experiment.id, status="ok").count()
        scored = Score.objects.filter(call__experiment_id=experiment.id, scorer="recorded_quality").count()
        progress(scored, ok)
        if scored >= ok or time.monotonic() > deadline:
            return scored, ok
        time.sleep(1)


def report(experiment: Experiment) -> str:
    analytics_refresh()
    return report_text(experiment_report(experiment=experiment).as_json())
