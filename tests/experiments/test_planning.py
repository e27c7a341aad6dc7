"""The plan: sized for the report's engine and correction from the route's per-user history, traffic
rates over the days the route has been live, and its size made the experiment's required sample."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.reports import experiment_report, report_family_size
from analytics.scoring_config import DEFAULT_SCORERS
from experiments.models import Experiment
from experiments.planning import experiment_plan
from experiments.power import engine_sample_size, ratio_per_user
from routing import services as routing
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db
PREMIUM = {"kind": "rules", "rules": [], "default": "simulator/claude-opus-4-1"}


def history(route, *, users: int, hours_ago: float, seed: int = 3) -> list[tuple[float, float]]:
    """Calls of `users` users over the last `hours_ago` hours, 1 to 4 calls each; per user (cost, calls)."""
    rng = random.Random(seed)
    now, pairs = timezone.now(), []
    for user in range(users):
        calls = rng.randint(1, 4)
        costs = [round(rng.lognormvariate(-6, 1), 8) for _ in range(calls)]
        for cost in costs:
            CallFactory(
                route=route,
                user_hash=f"u{user}",
                cost=Decimal(str(cost)),
                latency_ms=100.0,
                started_at=now - timedelta(hours=rng.uniform(0, hours_ago)),
            )
        pairs.append((sum(costs), float(calls)))
    return pairs


def test_a_one_day_old_route_is_planned_from_its_day_of_users_and_the_reports_correction(live_route):
    pairs = history(live_route.route, users=60, hours_ago=24)
    plan = experiment_plan(
        route=live_route.route,
        weights=[0.5, 0.5],
        keys=["control", "treatment"],
        coverage=1.0,
        metric="cost",
        mde=0.05,
        alpha=0.05,
        engine="sequential",
    )
    mean, sd = ratio_per_user(pairs)
    comparisons = report_family_size(live_route.route)
    # the four per-call metrics, the three latency quantiles and one quality metric per scorer
    assert comparisons == 4 + 3 + len(DEFAULT_SCORERS)
    assert plan.comparisons == comparisons and plan.user_sd == pytest.approx(sd, rel=1e-6)
    expected = engine_sample_size(
        sd=sd, delta=0.05 * mean, engine="sequential", comparisons=comparisons, treatment_sd=1.05 * sd
    )
    assert plan.sample_per_variant == expected
    assert plan.daily_users == pytest.approx(60, rel=0.1)  # 60 users in one day, not 60 / 7
    assert plan.runtime_days == pytest.approx(expected / (plan.daily_users * 0.5), rel=1e-6)
    fixed = experiment_plan(
        route=live_route.route, weights=[0.5, 0.5], keys=["control", "treatment"], coverage=1.0,
        metric="cost", mde=0.05, alpha=0.05, engine="fixed",
    )  # fmt: skip
    assert fixed.sample_per_variant < plan.sample_per_variant
    three = experiment_plan(
        route=live_route.route, weights=[0.4, 0.3, 0.3], keys=["control", "a", "b"], coverage=1.0,
        metric="cost", mde=0.05, alpha=0.05, engine="fixed",
    )  # fmt: skip
    assert three.comparisons == 2 * comparisons and three.sample_per_variant > fixed.sample_per_variant


def test_the_plans_size_becomes_the_required_sample_the_report_reads(client, staff_user, live_route):
    history(live_route.route, users=40, hours_ago=48)
    premium = routing.policy_create(route=live_route.route, name="all-premium", spec=PREMIUM)
    client.force_login(staff_user)
    form = {
        "route": "support-bot",
        "name": "planned",
        "control": live_route.version.id,
        "control_weight": 0.5,
        "treatment": premium.id,
        "treatment_weight": 0.5,
        "coverage": 1.0,
        "namespace_start": 0.0,
        "namespace_end": 1.0,
        "targeting": "{}",
        "guardrail_margins": '{"latency": 0.05}',
        "guardrail_metrics": ["latency"],
        "primary_metric": "cost",
        "engine": "fixed",
        "correction": "bh",
        "alpha": 0.05,
        "min_sample_per_variant": 10,
        "mde": 0.1,
    }
    preview = client.post("/experiments/new", {**form, "preview": "1"}).content.decode()
    family = report_family_size(live_route.route)
    assert 'id="needed"' in preview and f"fixed engine, corrected across {family} comparisons" in preview

    response = client.post("/experiments/new", {**form, "create": "1"})
    experiment = Experiment.objects.get(name="planned")
    assert response.status_code == 302
    plan = experiment_plan(
        route=live_route.route, weights=[0.5, 0.5], keys=["control", "treatment"], coverage=1.0,
        metric="cost", mde=0.1, alpha=0.05, engine="fixed",
    )  # fmt: skip
    assert experiment.min_sample_per_variant == plan.sample_per_variant > 10
    assert (experiment.engine, experiment.correction, experiment.guardrail_margins) == (
        "fixed", "bh", {"latency": 0.05},
    )  # fmt: skip
    report = experiment_report(experiment=experiment)
    assert report.required_users == plan.sample_per_variant
    assert (report.engine, report.correction) == ("fixed", "bh")


def test_bad_margins_engine_or_correction_are_refused_naming_the_field(client, staff_user, live_route):
    from django.core.exceptions import ValidationError

    from experiments.services import experiment_create

    premium = routing.policy_create(route=live_route.route, name="all-premium", spec=PREMIUM)
    variants = [
        {"key": "control", "policy_version": live_route.version, "weight": 0.5},
        {"key": "treatment", "policy_version": premium, "weight": 0.5},
    ]
    cases = [
        ({"guardrail_margins": {"latency": 0.05}}, "guardrail_margins"),  # not a guardrail
        ({"guardrail_metrics": ["latency"], "guardrail_margins": {"latency": -1}}, "guardrail_margins"),
        ({"guardrail_metrics": ["latency"], "guardrail_margins": {"latency": "x"}}, "guardrail_margins"),
        ({"engine": "psychic"}, "engine"),
        ({"correction": "none"}, "correction"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationError) as raised:
            experiment_create(route=live_route.route, name="bad", hypothesis="", variants=variants, **fields)
        assert list(raised.value.message_dict) == [field]
    assert not Experiment.objects.filter(name="bad").exists()
