"""Both routing endpoints assign users to experiment variants, sticky per user, with no database query."""

import json

import pytest

from experiments import services as experiments
from experiments.models import Experiment
from routing import services as routing
from routing.gateway.recorder import calls_flush
from routing.models import Call

pytestmark = pytest.mark.django_db

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
PREMIUM = {"kind": "rules", "rules": [], "default": "simulator/claude-opus-4-1"}


@pytest.fixture
def running(live_route, staff_user, django_capture_on_commit_callbacks):
    treatment = routing.policy_create(route=live_route.route, name="all-premium", spec=PREMIUM)
    with django_capture_on_commit_callbacks(execute=True):
        experiment = experiments.experiment_create(
            route=live_route.route,
            name="premium-vs-complexity",
            hypothesis="premium is not worth it",
            variants=[
                {"key": "control", "policy_version": live_route.version, "weight": 0.5},
                {"key": "treatment", "policy_version": treatment, "weight": 0.5},
            ],
            user=staff_user,
        )
        # A fixed hashing seed: the split of 200 users is then the same in every run, not a fresh draw.
        Experiment.objects.filter(pk=experiment.pk).update(seed="live-assignment")
        experiment.refresh_from_db()
        experiments.experiment_start(experiment=experiment, user=staff_user)
    return experiment


def _route(client, live_route, user=None, **extra):
    body = {"messages": FRANCE, **({"user": user} if user else {}), **extra}
    response = client.post("/api/v1/route", body, content_type="application/json", **live_route.auth)
    assert response.status_code == 200, response.content
    return response.json()


def test_users_are_split_between_variants_and_stay_in_theirs(client, live_route, running):
    first = {f"user-{i}": _route(client, live_route, f"user-{i}")["variant"] for i in range(200)}
    again = {f"user-{i}": _route(client, live_route, f"user-{i}")["variant"] for i in range(200)}
    assert first == again
    share = sum(variant == "treatment" for variant in first.values()) / len(first)
    assert 0.4 < share < 0.6


def test_a_variant_routes_with_its_own_policy(client, live_route, running):
    decisions = [_route(client, live_route, f"user-{i}") for i in range(40)]
    for decision in decisions:
        assert decision["experiment"] == "premium-vs-complexity"
        assert decision["phase"] == 1
        expected = (
            "simulator/claude-opus-4-1" if decision["variant"] == "treatment" else "simulator/gpt-4o-mini"
        )
        assert decision["model"] == expected


def test_a_request_without_a_user_gets_the_live_policy(client, live_route, running):
    decision = _route(client, live_route)
    assert decision["experiment"] is None and decision["variant"] is None
    assert decision["policy_version"] == "by-complexity@v1"


def test_the_proxy_names_experiment_and_variant_in_headers_and_call_rows(client, live_route, running):
    body = {"messages": FRANCE, "user": "user-7"}
    response = client.post(
        "/v1/chat/completions", data=json.dumps(body), content_type="application/json", **live_route.auth
    )
    assert response.status_code == 200
    assert response["x-routelab-experiment"] == "premium-vs-complexity"
    variant = response["x-routelab-variant"]
    assert response.json()["routelab"]["variant"] == variant
    calls_flush()
    call = Call.objects.get()
    assert (call.experiment_id, call.variant, call.phase) == (running.id, variant, 1)


def test_targeting_keeps_other_traffic_on_the_live_policy(
    client, live_route, staff_user, django_capture_on_commit_callbacks
):
    treatment = routing.policy_create(route=live_route.route, name="all-premium", spec=PREMIUM)
    with django_capture_on_commit_callbacks(execute=True):
        experiment = experiments.experiment_create(
            route=live_route.route,
            name="faq-only",
            hypothesis="",
            variants=[
                {"key": "control", "policy_version": live_route.version, "weight": 0.5},
                {"key": "treatment", "policy_version": treatment, "weight": 0.5},
            ],
            targeting={"feature": ["faq"]},
            user=staff_user,
        )
        experiments.experiment_start(experiment=experiment, user=staff_user)
    assert _route(client, live_route, "user-1", metadata={"feature": "faq"})["experiment"] == "faq-only"
    assert _route(client, live_route, "user-1", metadata={"feature": "billing"})["experiment"] is None


def test_a_steady_state_decision_makes_no_database_query(
    client, live_route, running, django_assert_num_queries
):
    _route(client, live_route, "user-1")
    with django_assert_num_queries(0):
        for i in range(20):
            _route(client, live_route, f"user-{i}")
