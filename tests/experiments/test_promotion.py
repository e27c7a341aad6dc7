"""Promoting a winner and rolling it back: atomic, audited, and safe against concurrent promotions."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from experiments.models import Experiment, ExperimentPhase, Promotion
from experiments.services import (
    ExperimentConflict,
    experiment_start,
    experiment_stop,
    promotion_rollback,
)
from routing.gateway.snapshot import snapshot_cache
from routing.models import AuditEntry, Route, RoutingPolicy
from routing.services import route_set_live_policy
from tests.factories import CallFactory, ExperimentFactory, PolicyVersionFactory, RouteFactory

EARLY = "No traffic yet in this test: promoted on the design review."


def experiment_promote(**fields):
    """The service with an override reason: these experiments have no data, so no variant is ship."""
    from experiments.services import experiment_promote as promote

    return promote(override_reason=EARLY, **fields)


@pytest.fixture
def running(live_route, treatment):
    experiment = ExperimentFactory(
        name="premium-test", route=live_route.route, control=live_route.version, treatment=treatment
    )
    return experiment_start(experiment=experiment)


def _live_label(route) -> str:
    return Route.objects.select_related("live_policy__policy").get(pk=route.pk).live_policy.label


@pytest.mark.django_db
def test_promotion_makes_the_variants_policy_live_and_concludes_the_experiment(
    running, live_route, treatment, staff_user
):
    promotion = experiment_promote(
        experiment=running, variant="treatment", reason="Quality up, cost within budget.", user=staff_user
    )
    assert _live_label(live_route.route) == "all-premium@v1"
    experiment = Experiment.objects.get(pk=running.pk)
    assert (experiment.status, experiment.winner.key) == ("concluded", "treatment")
    assert experiment.ended_at == promotion.promoted_at
    assert ExperimentPhase.objects.get(experiment=experiment).ended_at == promotion.promoted_at
    assert promotion.promoted_by == staff_user
    assert promotion.reason == "Quality up, cost within budget."
    assert promotion.previous_policy == live_route.version
    assert promotion.promoted_policy == treatment
    assert promotion.route == live_route.route


@pytest.mark.django_db
def test_promotion_keeps_the_report_it_relied_on_with_the_exposures_at_the_time(running, live_route):
    for variant, user in (("control", "u1"), ("control", "u2"), ("treatment", "u3")):
        CallFactory(
            route=live_route.route, experiment_id=running.id, variant=variant, phase=1, user_hash=user
        )
    significance = {"quality": {"delta": 0.04, "p_value": 0.003}}
    promotion = experiment_promote(
        experiment=running, variant="treatment", reason="Better.", report=significance
    )
    promotion.refresh_from_db()
    assert promotion.report["quality"] == {"delta": 0.04, "p_value": 0.003}
    assert promotion.report["phase"] == 1
    assert promotion.report["exposures"] == [
        {"variant": "control", "phase": 1, "calls": 2, "users": 2},
        {"variant": "treatment", "phase": 1, "calls": 1, "users": 1},
    ]


@pytest.mark.django_db
def test_promotion_writes_audit_entries_for_the_experiment_and_the_route(running, staff_user):
    experiment_promote(experiment=running, variant="treatment", reason="Better answers.", user=staff_user)
    promote = AuditEntry.objects.get(action="experiment.promote")
    assert promote.actor == staff_user
    assert promote.note.startswith("Better answers. (verdict: wait: ") and promote.note.endswith(
        f"; override: {EARLY}"
    )
    verdict = promote.changes.pop("verdict")
    assert verdict["state"] == "wait" and any(
        "under the required sample" in why for why in verdict["reasons"]
    )
    assert promote.changes == {
        "status": ["running", "concluded"],
        "winner": "treatment",
        "live_policy": ["by-complexity@v1", "all-premium@v1"],
        "override_reason": EARLY,
    }
    live = AuditEntry.objects.filter(action="route.set_live_policy").first()
    assert live.changes == {"live_policy": ["by-complexity@v1", "all-premium@v1"]}
    assert live.note == "promotion of treatment in experiment premium-test: Better answers."


@pytest.mark.django_db
def test_the_promoted_policy_reaches_the_routing_snapshot_on_commit(
    running, live_route, django_capture_on_commit_callbacks
):
    assert snapshot_cache.get().routes["support-bot"].live.label == "by-complexity@v1"
    with django_capture_on_commit_callbacks(execute=True):
        experiment_promote(experiment=running, variant="treatment", reason="Better.")
    assert snapshot_cache.get().routes["support-bot"].live.label == "all-premium@v1"


@pytest.mark.django_db
def test_a_stopped_experiment_can_still_be_promoted(running, live_route):
    stopped = experiment_stop(experiment=running)
    experiment_promote(experiment=stopped, variant="treatment", reason="Read the results after stopping.")
    assert Experiment.objects.get(pk=running.pk).status == "concluded"
    assert _live_label(live_route.route) == "all-premium@v1"


@pytest.mark.django_db
def test_a_draft_or_concluded_experiment_cannot_be_promoted(live_route, treatment, running):
    draft = ExperimentFactory(
        route=live_route.route, control=live_route.version, treatment=treatment, namespace="other"
    )
    with pytest.raises(ExperimentConflict, match="it is draft"):
        experiment_promote(experiment=draft, variant="treatment", reason="Too early.")
    experiment_promote(experiment=running, variant="treatment", reason="Better.")
    with pytest.raises(ExperimentConflict, match="it is concluded"):
        experiment_promote(experiment=running, variant="control", reason="Changed my mind.")
    assert Promotion.objects.count() == 1


@pytest.mark.django_db
def test_promoting_needs_a_known_variant_and_a_reason(running):
    with pytest.raises(ValidationError) as caught:
        experiment_promote(experiment=running, variant="nope", reason="Better.")
    assert caught.value.message_dict == {
        "variant": ["Experiment 'premium-test' has no variant 'nope'; it has control, treatment."]
    }
    with pytest.raises(ValidationError) as caught:
        experiment_promote(experiment=running, variant="treatment", reason="  ")
    assert list(caught.value.message_dict) == ["reason"]
    assert not Promotion.objects.exists()


@pytest.mark.django_db
def test_promotion_is_atomic_when_setting_the_live_policy_fails(running, live_route, treatment):
    # A broken state: the treatment's policy was moved to another route after the experiment was made.
    RoutingPolicy.objects.filter(pk=treatment.policy_id).update(route=RouteFactory(name="elsewhere"))
    with pytest.raises(ValidationError) as caught:
        experiment_promote(experiment=running, variant="treatment", reason="Better.")
    assert "belongs to another route" in caught.value.message_dict["live_policy"][0]
    experiment = Experiment.objects.get(pk=running.pk)
    assert (experiment.status, experiment.winner, experiment.ended_at) == ("running", None, None)
    assert ExperimentPhase.objects.get(experiment=experiment).ended_at is None
    assert not Promotion.objects.exists()
    assert not AuditEntry.objects.filter(action="experiment.promote").exists()
    assert _live_label(live_route.route) == "by-complexity@v1"


@pytest.mark.django_db
def test_rollback_restores_the_previous_policy_and_is_audited(running, live_route, staff_user):
    promotion = experiment_promote(experiment=running, variant="treatment", reason="Better.")
    rolled_back = promotion_rollback(promotion=promotion, reason="Complaints about latency.", user=staff_user)
    assert _live_label(live_route.route) == "by-complexity@v1"
    assert rolled_back.rolled_back_by == staff_user
    assert rolled_back.rollback_reason == "Complaints about latency."
    assert rolled_back.rolled_back_at >= rolled_back.promoted_at
    entry = AuditEntry.objects.get(action="promotion.rollback")
    assert (entry.actor, entry.note) == (staff_user, "Complaints about latency.")
    assert entry.changes == {"live_policy": ["all-premium@v1", "by-complexity@v1"]}
    assert AuditEntry.objects.filter(action="route.set_live_policy").first().changes == {
        "live_policy": ["all-premium@v1", "by-complexity@v1"]
    }


@pytest.mark.django_db
def test_a_promotion_cannot_be_rolled_back_twice(running):
    promotion = experiment_promote(experiment=running, variant="treatment", reason="Better.")
    promotion_rollback(promotion=promotion, reason="Latency.")
    with pytest.raises(ExperimentConflict, match="already rolled back"):
        promotion_rollback(promotion=promotion, reason="Again.")
    assert AuditEntry.objects.filter(action="promotion.rollback").count() == 1


@pytest.mark.django_db
def test_rollback_is_refused_once_the_live_policy_changed_since(running, live_route):
    promotion = experiment_promote(experiment=running, variant="treatment", reason="Better.")
    newer = PolicyVersionFactory(route=live_route.route, name="newer")
    route_set_live_policy(route=Route.objects.get(pk=live_route.route.pk), version=newer)
    with pytest.raises(ExperimentConflict) as caught:
        promotion_rollback(promotion=promotion, reason="Latency.")
    assert "live policy is now newer@v1, not the promoted all-premium@v1" in caught.value.messages[0]
    assert _live_label(live_route.route) == "newer@v1"
    assert Promotion.objects.get(pk=promotion.pk).rolled_back_at is None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_promotions_of_one_experiment_cannot_both_succeed(running, live_route):
    barrier = threading.Barrier(2)
    promoted, refused = {}, {}

    def promote(variant):
        try:
            barrier.wait(timeout=10)
            promoted[variant.key] = experiment_promote(experiment=running, variant=variant, reason="Race.")
        except ValidationError as exc:
            refused[variant.key] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=promote, args=(variant,)) for variant in running.variants.all()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(promoted) == 1 and len(refused) == 1
    (winner,) = promoted
    (loser,) = refused.values()
    assert isinstance(loser, ExperimentConflict)
    assert "it is concluded" in loser.messages[0]
    promotion = Promotion.objects.get()
    assert promotion.variant.key == winner
    assert Experiment.objects.get(pk=running.pk).winner.key == winner
    expected = {"control": "by-complexity@v1", "treatment": "all-premium@v1"}[winner]
    assert _live_label(live_route.route) == expected
    assert AuditEntry.objects.filter(action="experiment.promote").count() == 1
