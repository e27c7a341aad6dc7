import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from analytics.models import Score
from experiments import services as experiments
from routing import services as routing
from routing.models import Call

PREMIUM = {"kind": "rules", "rules": [], "default": "simulator/claude-opus-4-1"}
# per-call cost and quality of the reporting tests' traffic: treatment cheaper at the same quality
COSTS = {"control": 0.02, "treatment": 0.006}
QUALITY = {"control": 0.8, "treatment": 0.8}


@pytest.fixture
def running_experiment(live_route, staff_user):
    """premium (control) against complexity routing (treatment) on support-bot, started."""
    premium = routing.policy_create(route=live_route.route, name="all-premium", spec=PREMIUM)
    experiment = experiments.experiment_create(
        route=live_route.route,
        name="complexity-vs-premium",
        hypothesis="cheaper, as good",
        variants=[
            {"key": "control", "policy_version": premium, "weight": 0.5},
            {"key": "treatment", "policy_version": live_route.version, "weight": 0.5},
        ],
        guardrail_metrics=["quality", "error_rate"],
        min_sample_per_variant=100,
        primary_metric="cost",
    )
    return experiments.experiment_start(experiment=experiment, user=staff_user)


def make_calls(
    experiment,
    *,
    users: int,
    calls_per_user: int,
    costs: dict,
    quality: dict,
    seed: int = 1,
    weights=(0.5, 0.5),
    day: datetime | None = None,
) -> list[Call]:
    """Calls (and recorded-quality scores) of an experiment's users with known cost and quality levels."""
    rng = random.Random(seed)
    day = day or datetime.now(UTC)
    calls, scores = [], []
    for u in range(users):
        variant = "control" if rng.random() < weights[0] else "treatment"
        for _ in range(calls_per_user):
            error = rng.random() < 0.01
            call = Call(
                id=uuid.uuid4(),
                source="proxy",
                status="error" if error else "ok",
                route_id=experiment.route_id,
                experiment_id=experiment.id,
                variant=variant,
                phase=experiment.phase,
                user_hash=f"user-{seed}-{u}",
                cost=Decimal(0)
                if error
                else Decimal(str(round(max(rng.gauss(costs[variant], costs[variant] / 3), 0), 8))),
                latency_ms=None if error else rng.lognormvariate(6.5 if variant == "control" else 6.0, 0.4),
                fallbacks_used=int(rng.random() < 0.02),
                started_at=day,
                completed_at=day + timedelta(seconds=1),
            )
            calls.append(call)
            if not error:
                value = min(max(rng.gauss(quality[variant], 0.15), 0), 1)
                scores.append(
                    Score(call=call, scorer="recorded_quality", version="1", value=value, status="scored")
                )
    Call.objects.bulk_create(calls)
    Score.objects.bulk_create(scores)
    return calls


@pytest.fixture
def with_traffic(running_experiment, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REPORT_RECIPIENTS = ["team@example.com"]
    make_calls(running_experiment, users=300, calls_per_user=2, costs=COSTS, quality=QUALITY)
    return running_experiment
