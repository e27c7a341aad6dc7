"""The experiment services (validation, lifecycle, phases) and selectors, on the real database."""

import dataclasses
import datetime
import math

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from experiments.assignment import assign
from experiments.models import Experiment, ExperimentPhase
from experiments.selectors import (
    ExperimentSnapshot,
    VariantSnapshot,
    experiment_exposures,
    experiment_list,
    recent_route_traffic,
    running_experiments_snapshot,
)
from experiments.services import (
    ExperimentConflict,
    experiment_create,
    experiment_pause,
    experiment_promote,
    experiment_ramp,
    experiment_resume,
    experiment_set_weights,
    experiment_start,
    experiment_stop,
)
from routing.gateway.redis_client import get_redis
from routing.gateway.snapshot import GENERATION_KEY
from routing.models import AuditEntry
from tests.factories import CallFactory, ExperimentFactory, PolicyVersionFactory, RouteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_experiment(live_route, treatment):
    def make(**fields):
        return ExperimentFactory(
            route=live_route.route, control=live_route.version, treatment=treatment, **fields
        )

    return make


def _variants(control, treatment, weights=(0.5, 0.5), keys=("control", "treatment")):
    return [
        {"key": keys[0], "policy_version": control, "weight": weights[0]},
        {"key": keys[1], "policy_version": treatment, "weight": weights[1]},
    ]


def _create_errors(live_route, treatment, **fields) -> dict[str, list[str]]:
    fields.setdefault("variants", _variants(live_route.version, treatment))
    with pytest.raises(ValidationError) as caught:
        experiment_create(route=live_route.route, name="premium-test", hypothesis="", **fields)
    return caught.value.message_dict


# -- creating ------------------------------------------------------------------------------------------------


def test_creating_an_experiment_makes_an_audited_draft_with_its_variants_in_order(
    live_route, treatment, staff_user
):
    experiment = experiment_create(
        route=live_route.route,
        name="premium-test",
        hypothesis="Premium answers are worth their cost.",
        variants=_variants(live_route.version.id, treatment, weights=(0.3, 0.7)),
        coverage=0.2,
        targeting={"user_tier": ["pro"]},
        guardrail_metrics=["latency", "error_rate"],
        user=staff_user,
    )
    assert experiment.status == "draft"
    assert experiment.created_by == staff_user
    assert len(experiment.seed) == 16
    assert [(v.key, v.position, v.policy_version_id, v.weight) for v in experiment.variants.all()] == [
        ("control", 0, live_route.version.id, 0.3),
        ("treatment", 1, treatment.id, 0.7),
    ]
    entry = AuditEntry.objects.get(action="experiment.create")
    assert entry.actor == staff_user
    assert entry.changes["variants"] == [
        ["control", "by-complexity@v1", 0.3],
        ["treatment", "all-premium@v1", 0.7],
    ]


def test_each_new_experiment_gets_its_own_random_seed(make_experiment):
    assert make_experiment(namespace="a").seed != make_experiment(namespace="b").seed


def test_weights_that_do_not_sum_to_one_are_refused_naming_the_variants(live_route, treatment):
    errors = _create_errors(
        live_route, treatment, variants=_variants(live_route.version, treatment, (0.5, 0.4))
    )
    assert errors == {"variants": ["The weights sum to 0.9; they must sum to 1."]}


def test_weights_within_a_millionth_of_one_are_accepted(live_route, treatment):
    third = 1 / 3
    variants = [*_variants(live_route.version, treatment, (third, third)), {**_variants(0, treatment)[1]}]
    variants[2].update(key="treatment-b", weight=1 - 2 * third + 5e-7)
    experiment = experiment_create(route=live_route.route, name="thirds", hypothesis="", variants=variants)
    assert experiment.variants.count() == 3


def test_a_weight_outside_zero_and_one_is_refused_naming_that_weight(live_route, treatment):
    errors = _create_errors(
        live_route, treatment, variants=_variants(live_route.version, treatment, (1.5, -0.5))
    )
    assert set(errors) == {"variants.0.weight", "variants.1.weight"}


@pytest.mark.parametrize("coverage", [-0.1, 1.01, math.nan, "all"])
def test_coverage_outside_zero_and_one_is_refused_naming_coverage(live_route, treatment, coverage):
    errors = _create_errors(live_route, treatment, coverage=coverage)
    assert list(errors) == ["coverage"]
    assert "between 0 and 1" in errors["coverage"][0]


def test_fewer_than_two_variants_are_refused(live_route, treatment):
    errors = _create_errors(live_route, treatment, variants=_variants(live_route.version, treatment)[:1])
    assert errors == {"variants": ["An experiment needs at least two variants; the first is the control."]}


def test_duplicate_variant_keys_are_refused(live_route, treatment):
    variants = _variants(live_route.version, treatment, keys=("arm", "arm"))
    assert _create_errors(live_route, treatment, variants=variants) == {
        "variants": ["Variant keys must be unique; repeated: arm."]
    }


def test_a_variant_whose_policy_belongs_to_another_route_is_refused_naming_it(live_route, treatment):
    other_route = RouteFactory(name="billing-bot")
    foreign = PolicyVersionFactory(route=other_route, name="billing-rules")
    errors = _create_errors(live_route, treatment, variants=_variants(live_route.version, foreign))
    assert errors == {
        "variants.1.policy_version": ["billing-rules@v1 belongs to route billing-bot, not to support-bot."]
    }


def test_an_unknown_policy_version_is_refused_naming_it(live_route, treatment):
    errors = _create_errors(live_route, treatment, variants=_variants(live_route.version, 987654))
    assert list(errors) == ["variants.1.policy_version"]
    assert "987654" in errors["variants.1.policy_version"][0]


def test_overlapping_namespace_ranges_on_one_route_are_refused_naming_the_namespace(
    make_experiment, live_route, treatment
):
    experiment_start(
        experiment=make_experiment(name="first", namespace="checkout", namespace_range=(0.0, 0.5))
    )
    errors = _create_errors(live_route, treatment, namespace="checkout", namespace_range=(0.4, 1.0))
    assert list(errors) == ["namespace"]
    assert "overlaps experiment 'first' (running) at [0, 0.5)" in errors["namespace"][0]


def test_adjacent_namespace_ranges_and_other_namespaces_do_not_overlap(make_experiment):
    make_experiment(name="first", namespace="checkout", namespace_range=(0.0, 0.5))
    make_experiment(name="second", namespace="checkout", namespace_range=(0.5, 1.0))
    make_experiment(name="elsewhere", namespace="search", namespace_range=(0.0, 1.0))
    assert Experiment.objects.count() == 3


def test_two_experiments_without_a_namespace_on_one_route_overlap(make_experiment, live_route, treatment):
    experiment_start(experiment=make_experiment(name="first"))
    errors = _create_errors(live_route, treatment)
    assert "'first' (running) on route support-bot has no namespace either" in errors["namespace"][0]


def test_a_draft_does_not_hold_a_slot_on_its_route(make_experiment, live_route, treatment):
    make_experiment(name="first")
    assert make_experiment(name="second").status == "draft"


def test_a_stopped_experiment_frees_its_namespace_slot(make_experiment):
    first = experiment_start(experiment=make_experiment(name="first"))
    experiment_stop(experiment=first)
    assert make_experiment(name="second").status == "draft"


@pytest.mark.parametrize(
    ("namespace", "namespace_range"),
    [("checkout", (0.5, 0.5)), ("checkout", (0.6, 0.2)), ("checkout", (-0.1, 0.5)), ("", (0.0, 0.5))],
)
def test_an_invalid_namespace_range_is_refused_naming_it(live_route, treatment, namespace, namespace_range):
    errors = _create_errors(live_route, treatment, namespace=namespace, namespace_range=namespace_range)
    assert list(errors) == ["namespace_range"]


@pytest.mark.parametrize(
    "targeting", [["pro"], {"user_tier": "pro"}, {"user_tier": []}, {"tier": [{"a": 1}]}]
)
def test_targeting_must_map_each_key_to_a_list_of_allowed_values(live_route, treatment, targeting):
    assert list(_create_errors(live_route, treatment, targeting=targeting)) == ["targeting"]


def test_statistical_settings_are_validated_naming_each_field(live_route, treatment):
    errors = _create_errors(
        live_route,
        treatment,
        alpha=0.6,
        min_sample_per_variant=0,
        primary_metric="happiness",
        guardrail_metrics=["cost", "vibes"],
    )
    assert set(errors) == {"alpha", "min_sample_per_variant", "primary_metric", "guardrail_metrics"}


def test_a_second_experiment_with_the_same_name_on_a_route_is_refused(make_experiment, live_route, treatment):
    make_experiment(name="premium-test", namespace="a")
    errors = _create_errors(live_route, treatment, namespace="b")
    assert errors == {"name": ["Route support-bot already has an experiment named 'premium-test'."]}


# -- lifecycle -----------------------------------------------------------------------------------------------


def test_the_lifecycle_runs_draft_running_paused_running_stopped_and_is_audited(make_experiment, staff_user):
    experiment = make_experiment()
    assert experiment_start(experiment=experiment, user=staff_user).status == "running"
    assert experiment_pause(experiment=experiment, user=staff_user).status == "paused"
    assert experiment_resume(experiment=experiment, user=staff_user).status == "running"
    stopped = experiment_stop(experiment=experiment, user=staff_user)
    assert stopped.status == "stopped"
    assert stopped.started_at <= stopped.ended_at
    actions = list(
        AuditEntry.objects.filter(target_type="experiments.experiment").values_list("action", "changes")
    )
    assert [action for action, _ in reversed(actions)] == [
        "experiment.create",
        "experiment.start",
        "experiment.pause",
        "experiment.resume",
        "experiment.stop",
    ]
    assert actions[0][1] == {"status": ["running", "stopped"]}


def test_starting_opens_phase_one_and_pausing_keeps_it(make_experiment):
    experiment = experiment_start(experiment=make_experiment(coverage=0.4))
    experiment_pause(experiment=experiment)
    experiment_resume(experiment=experiment)
    phase = ExperimentPhase.objects.get(experiment=experiment)
    assert (phase.number, phase.seed, phase.coverage, phase.weights) == (1, experiment.seed, 0.4, [0.5, 0.5])
    assert phase.ended_at is None
    experiment_stop(experiment=experiment)
    phase.refresh_from_db()
    assert phase.ended_at is not None


@pytest.mark.parametrize(
    ("moves", "refused", "status"),
    [
        ((), experiment_pause, "draft"),
        ((), experiment_resume, "draft"),
        ((), experiment_stop, "draft"),
        ((experiment_start,), experiment_start, "running"),
        ((experiment_start,), experiment_resume, "running"),
        ((experiment_start, experiment_pause), experiment_pause, "paused"),
        ((experiment_start, experiment_stop), experiment_start, "stopped"),
        ((experiment_start, experiment_stop), experiment_resume, "stopped"),
    ],
)
def test_an_illegal_lifecycle_move_is_refused_naming_the_current_status(
    make_experiment, moves, refused, status
):
    experiment = make_experiment()
    for move in moves:
        move(experiment=experiment)
    with pytest.raises(ExperimentConflict) as caught:
        refused(experiment=experiment)
    assert f"it is {status};" in caught.value.message_dict["status"][0]
    experiment.refresh_from_db()
    assert experiment.status == status


def test_starting_a_second_experiment_in_a_held_namespace_slot_is_refused(make_experiment):
    running = experiment_start(
        experiment=make_experiment(name="first", namespace="n", namespace_range=(0, 0.5))
    )
    second = make_experiment(name="second", namespace="n", namespace_range=(0.5, 1))
    # As an edit outside the services (or a race between two creations) could leave it.
    Experiment.objects.filter(pk=second.pk).update(namespace_start=0.25)
    with pytest.raises(ValidationError) as caught:
        experiment_start(experiment=second)
    assert "overlaps experiment 'first' (running)" in caught.value.message_dict["namespace"][0]
    assert Experiment.objects.get(pk=second.pk).status == "draft"
    assert running.status == "running"


# -- phases --------------------------------------------------------------------------------------------------


def test_ramping_coverage_starts_a_phase_keeping_the_seed(make_experiment, staff_user):
    experiment = experiment_start(experiment=make_experiment(coverage=0.1))
    ramped = experiment_ramp(experiment=experiment, coverage=0.5, user=staff_user)
    assert (ramped.coverage, ramped.phase, ramped.seed) == (0.5, 2, experiment.seed)
    first, second = ExperimentPhase.objects.filter(experiment=experiment).order_by("number")
    assert first.ended_at == second.started_at
    assert (second.number, second.seed, second.coverage, second.ended_at) == (2, experiment.seed, 0.5, None)
    entry = AuditEntry.objects.get(action="experiment.ramp")
    assert entry.changes == {"coverage": [0.1, 0.5], "phase": [1, 2]}


def test_raising_coverage_keeps_every_assigned_user_in_their_variant(make_experiment):
    experiment = experiment_start(experiment=make_experiment(coverage=0.1))
    before = running_experiments_snapshot()[0]
    experiment_ramp(experiment=experiment, coverage=0.5)
    after = running_experiments_snapshot()[0]
    users = [f"user-{i}" for i in range(2000)]
    kept = [
        assign(seed=before.seed, user_id=u, weights=before.weights, coverage=before.coverage) for u in users
    ]
    now = [assign(seed=after.seed, user_id=u, weights=after.weights, coverage=after.coverage) for u in users]
    assert sum(a.in_experiment for a in kept) < sum(a.in_experiment for a in now)
    assert all(n.variation == k.variation for k, n in zip(kept, now, strict=True) if k.in_experiment)


def test_lowering_coverage_is_allowed_and_also_starts_a_phase(make_experiment):
    experiment = experiment_start(experiment=make_experiment(coverage=0.5))
    assert experiment_ramp(experiment=experiment, coverage=0.2).phase == 2


def test_ramping_is_refused_for_a_draft_and_for_coverage_outside_zero_and_one(make_experiment):
    experiment = make_experiment()
    with pytest.raises(ExperimentConflict, match="it is draft"):
        experiment_ramp(experiment=experiment, coverage=0.5)
    experiment_start(experiment=experiment)
    with pytest.raises(ValidationError) as caught:
        experiment_ramp(experiment=experiment, coverage=1.5)
    assert list(caught.value.message_dict) == ["coverage"]


def test_changing_weights_starts_a_phase_with_a_new_seed(make_experiment, staff_user):
    experiment = experiment_start(experiment=make_experiment())
    changed = experiment_set_weights(experiment=experiment, weights=[0.2, 0.8], user=staff_user)
    assert changed.phase == 2
    assert changed.seed != experiment.seed
    assert [v.weight for v in changed.variants.order_by("position")] == [0.2, 0.8]
    phase = ExperimentPhase.objects.get(experiment=experiment, number=2)
    assert (phase.seed, phase.weights) == (changed.seed, [0.2, 0.8])
    entry = AuditEntry.objects.get(action="experiment.set_weights")
    assert entry.changes["weights"] == [[0.5, 0.5], [0.2, 0.8]]
    assert entry.changes["seed"] == [experiment.seed, changed.seed]


@pytest.mark.parametrize(
    ("weights", "field"), [([0.3, 0.3], "weights"), ([0.5], "weights"), ([1.2, -0.2], "weights.0")]
)
def test_new_weights_must_be_one_per_variant_and_sum_to_one(make_experiment, weights, field):
    experiment = experiment_start(experiment=make_experiment())
    with pytest.raises(ValidationError) as caught:
        experiment_set_weights(experiment=experiment, weights=weights)
    assert field in caught.value.message_dict
    experiment.refresh_from_db()
    assert experiment.phase == 1


# -- selectors and the routing snapshot ----------------------------------------------------------------------


def test_running_experiments_snapshot_holds_only_running_experiments_as_frozen_values(
    make_experiment, live_route, treatment
):
    running = make_experiment(
        name="running", namespace="n", namespace_range=(0, 0.5), coverage=0.3, targeting={"feature": ["chat"]}
    )
    experiment_start(experiment=running)
    paused = experiment_start(
        experiment=make_experiment(name="paused", namespace="n", namespace_range=(0.5, 1))
    )
    experiment_pause(experiment=paused)
    make_experiment(name="draft", namespace="m")
    running.refresh_from_db()
    (snapshot,) = running_experiments_snapshot()
    assert snapshot == ExperimentSnapshot(
        id=running.id,
        name="running",
        route_id=live_route.route.id,
        seed=running.seed,
        hash_version=2,
        coverage=0.3,
        phase=1,
        namespace=("n", 0.0, 0.5),
        targeting={"feature": ["chat"]},
        variants=(
            VariantSnapshot("control", live_route.version.id, 0.5),
            VariantSnapshot("treatment", treatment.id, 0.5),
        ),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.coverage = 1.0


def test_an_experiment_without_a_namespace_snapshots_none(make_experiment):
    experiment_start(experiment=make_experiment())
    assert running_experiments_snapshot()[0].namespace is None


def test_every_lifecycle_change_invalidates_the_routing_snapshot_on_commit(
    make_experiment, django_capture_on_commit_callbacks
):
    experiment = make_experiment()
    redis = get_redis()
    before = int(redis.get(GENERATION_KEY) or 0)
    with django_capture_on_commit_callbacks(execute=True):
        experiment_start(experiment=experiment)
    with django_capture_on_commit_callbacks(execute=True):
        experiment_ramp(experiment=experiment, coverage=0.5)
    assert int(redis.get(GENERATION_KEY)) == before + 2


def test_exposures_count_calls_and_distinct_users_per_variant_and_phase(make_experiment, live_route):
    experiment = experiment_start(experiment=make_experiment())
    call = {"route": live_route.route, "experiment_id": experiment.id}
    for user in ("u1", "u1", "u2"):
        CallFactory(**call, variant="control", phase=1, user_hash=user)
    CallFactory(**call, variant="treatment", phase=1, user_hash="u3")
    CallFactory(route=live_route.route, experiment_id=None, user_hash="u9")
    experiment = experiment_ramp(experiment=experiment, coverage=0.5)
    CallFactory(**call, variant="treatment", phase=2, user_hash="u3")
    assert experiment_exposures(experiment=experiment) == [
        {"variant": "control", "phase": 1, "calls": 3, "users": 2},
        {"variant": "treatment", "phase": 1, "calls": 1, "users": 1},
        {"variant": "control", "phase": 2, "calls": 0, "users": 0},
        {"variant": "treatment", "phase": 2, "calls": 1, "users": 1},
    ]


def test_recent_route_traffic_is_the_mean_calls_per_day_over_the_window(live_route):
    now = timezone.now()
    for days_ago in (0, 1, 2, 3, 6):
        CallFactory(route=live_route.route, started_at=now - datetime.timedelta(days=days_ago, hours=1))
    CallFactory(route=live_route.route, started_at=now - datetime.timedelta(days=9))
    assert recent_route_traffic(route=live_route.route, days=7) == pytest.approx(5 / 7)
    assert recent_route_traffic(route=live_route.route, days=2) == pytest.approx(2 / 2)


def test_experiment_list_filters_by_route_and_status(make_experiment, live_route):
    started = experiment_start(experiment=make_experiment(name="started", namespace="a"))
    make_experiment(name="drafted", namespace="b")
    assert [e.name for e in experiment_list(route=live_route.route, status="running")] == ["started"]
    assert {e.name for e in experiment_list(route=live_route.route)} == {"started", "drafted"}
    assert not experiment_list(route=RouteFactory(name="empty-route")).exists()
    assert started.id in {e.id for e in experiment_list(status="running")}


def test_the_admin_shows_an_experiment_with_variants_and_phases_and_edits_only_the_hypothesis(
    make_experiment, admin_client
):
    experiment = experiment_start(experiment=make_experiment(coverage=0.3))
    response = admin_client.get(f"/admin/experiments/experiment/{experiment.id}/change/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.fields) == ["hypothesis"]
    assert [inline.formset.model.__name__ for inline in response.context["inline_admin_formsets"]] == [
        "Variant",
        "ExperimentPhase",
    ]
    assert admin_client.get("/admin/experiments/experiment/add/").status_code == 403


def test_the_admin_shows_a_promotion_read_only(make_experiment, admin_client):
    experiment = experiment_start(experiment=make_experiment())
    promotion = experiment_promote(
        experiment=experiment, variant="treatment", reason="Better.", override_reason="No data in this test."
    )
    response = admin_client.get(f"/admin/experiments/promotion/{promotion.id}/change/")
    assert response.status_code == 200
    assert not response.context["adminform"].form.fields
    assert b"Better." in response.content
