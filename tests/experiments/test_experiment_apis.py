"""The experiments REST API under /api/v1/: create, lifecycle, coverage, weights, promotion, exposures."""

import pytest
from rest_framework.test import APIClient

from experiments.models import Experiment, Promotion
from routing.models import Route
from tests.factories import CallFactory, PolicyVersionFactory, RouteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def payload(live_route, treatment):
    return {
        "route": "support-bot",
        "name": "premium-test",
        "hypothesis": "Premium answers are worth their cost.",
        "variants": [
            {"key": "control", "policy_version_id": live_route.version.id, "weight": 0.5},
            {"key": "treatment", "policy_version_id": treatment.id, "weight": 0.5},
        ],
        "coverage": 0.2,
        "targeting": {"user_tier": ["pro"]},
        "guardrail_metrics": ["latency"],
    }


@pytest.fixture
def created(staff_api, payload):
    response = staff_api.post("/api/v1/experiments", payload, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def started(staff_api, created):
    response = staff_api.post(f"/api/v1/experiments/{created['id']}/start")
    assert response.status_code == 200, response.json()
    return response.json()


def _fields(response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.json()
    return response.json()["error"]["fields"]


def test_creating_an_experiment_returns_the_draft_with_its_variants(created, live_route, treatment):
    assert created["status"] == "draft"
    assert created["route"] == "support-bot"
    assert created["created_by"] == "staff"
    assert (created["phase"], created["current_phase"], created["phases"], created["promotions"]) == (
        1,
        None,
        [],
        [],
    )
    assert [
        (v["key"], v["position"], v["policy_version_id"], v["policy_version"]) for v in created["variants"]
    ] == [
        ("control", 0, live_route.version.id, "by-complexity@v1"),
        ("treatment", 1, treatment.id, "all-premium@v1"),
    ]
    assert created["namespace_range"] == [0.0, 1.0]
    assert Experiment.objects.get(pk=created["id"]).targeting == {"user_tier": ["pro"]}


def test_weights_that_do_not_sum_to_one_get_a_400_naming_the_variants(staff_api, payload):
    payload["variants"][1]["weight"] = 0.4
    fields = _fields(staff_api.post("/api/v1/experiments", payload, format="json"))
    assert fields == {"variants": ["The weights sum to 0.9; they must sum to 1."]}


@pytest.mark.parametrize("coverage", [-0.5, 1.5])
def test_coverage_outside_zero_and_one_gets_a_400_naming_coverage(staff_api, payload, coverage):
    fields = _fields(staff_api.post("/api/v1/experiments", {**payload, "coverage": coverage}, format="json"))
    assert list(fields) == ["coverage"]


def test_a_variant_whose_policy_belongs_to_another_route_gets_a_400_naming_it(staff_api, payload):
    foreign = PolicyVersionFactory(route=RouteFactory(name="billing-bot"), name="billing-rules")
    payload["variants"][1]["policy_version_id"] = foreign.id
    fields = _fields(staff_api.post("/api/v1/experiments", payload, format="json"))
    assert fields == {
        "variants.1.policy_version_id": ["billing-rules@v1 belongs to route billing-bot, not to support-bot."]
    }


def test_overlapping_namespace_ranges_on_one_route_get_a_400_naming_the_namespace(staff_api, payload):
    first = {**payload, "name": "first", "namespace": "checkout", "namespace_range": [0, 0.6]}
    created = staff_api.post("/api/v1/experiments", first, format="json")
    assert created.status_code == 201
    assert staff_api.post(f"/api/v1/experiments/{created.json()['id']}/start").status_code == 200
    second = {**payload, "name": "second", "namespace": "checkout", "namespace_range": [0.5, 1]}
    fields = _fields(staff_api.post("/api/v1/experiments", second, format="json"))
    assert "overlaps experiment 'first' (running) at [0, 0.6)" in fields["namespace"][0]


def test_a_second_running_experiment_in_the_same_namespace_slot_gets_a_400(staff_api, payload):
    for name, namespace_range in (("first", [0, 0.5]), ("second", [0.5, 1])):
        body = {**payload, "name": name, "namespace": "checkout", "namespace_range": namespace_range}
        assert staff_api.post("/api/v1/experiments", body, format="json").status_code == 201
    first, second = Experiment.objects.order_by("id")
    assert staff_api.post(f"/api/v1/experiments/{first.id}/start").status_code == 200
    Experiment.objects.filter(pk=second.pk).update(namespace_start=0.4)  # as a racing edit could leave it
    fields = _fields(staff_api.post(f"/api/v1/experiments/{second.id}/start"))
    assert "overlaps experiment 'first' (running)" in fields["namespace"][0]


def test_a_malformed_variant_gets_a_400_naming_its_field(staff_api, payload):
    payload["variants"][0] = {"key": "control", "weight": 0.5}
    assert _fields(staff_api.post("/api/v1/experiments", payload, format="json")) == {
        "variants.0.policy_version_id": ["This field is required."]
    }


def test_the_lifecycle_runs_start_pause_resume_stop(staff_api, started):
    url = f"/api/v1/experiments/{started['id']}"
    assert started["status"] == "running"
    assert started["current_phase"]["number"] == 1
    assert started["current_phase"]["seed"] == started["seed"]
    assert staff_api.post(f"{url}/pause").json()["status"] == "paused"
    assert staff_api.post(f"{url}/resume").json()["status"] == "running"
    stopped = staff_api.post(f"{url}/stop").json()
    assert stopped["status"] == "stopped"
    assert stopped["phases"][0]["ended_at"] == stopped["ended_at"]


def test_an_illegal_lifecycle_move_gets_a_409_naming_the_current_status(staff_api, created):
    response = staff_api.post(f"/api/v1/experiments/{created['id']}/pause")
    assert response.status_code == 409
    assert response.json()["error"] == {
        "type": "conflict",
        "message": (
            "Cannot pause experiment 'premium-test': it is draft; only a running experiment allows it."
        ),
    }


def test_ramping_coverage_starts_a_phase_with_the_same_seed(staff_api, started):
    response = staff_api.post(
        f"/api/v1/experiments/{started['id']}/coverage", {"coverage": 0.5}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["coverage"], body["phase"], body["seed"]) == (0.5, 2, started["seed"])
    assert [(p["number"], p["coverage"], p["seed"]) for p in body["phases"]] == [
        (1, 0.2, started["seed"]),
        (2, 0.5, started["seed"]),
    ]


def test_changing_weights_starts_a_phase_with_a_new_seed(staff_api, started):
    url = f"/api/v1/experiments/{started['id']}/weights"
    body = staff_api.post(url, {"weights": [0.3, 0.7]}, format="json").json()
    assert (body["phase"], body["current_phase"]["weights"]) == (2, [0.3, 0.7])
    assert body["seed"] != started["seed"] and body["current_phase"]["seed"] == body["seed"]
    assert [v["weight"] for v in body["variants"]] == [0.3, 0.7]
    assert list(_fields(staff_api.post(url, {"weights": [0.3, 0.3]}, format="json"))) == ["weights"]


def test_promoting_returns_the_promotion_and_the_experiment_shows_it(staff_api, started, live_route):
    url = f"/api/v1/experiments/{started['id']}"
    response = staff_api.post(
        f"{url}/promote",
        {"variant": "treatment", "reason": "Better.", "override_reason": "No data in this test."},
        format="json",
    )
    assert response.status_code == 201, response.json()
    promotion = response.json()
    assert (promotion["variant"], promotion["previous_policy"], promotion["promoted_policy"]) == (
        "treatment",
        "by-complexity@v1",
        "all-premium@v1",
    )
    assert (promotion["promoted_by"], promotion["reason"]) == ("staff", "Better.")
    assert promotion["report"]["exposures"] == [
        {"variant": "control", "phase": 1, "calls": 0, "users": 0},
        {"variant": "treatment", "phase": 1, "calls": 0, "users": 0},
    ]
    experiment = staff_api.get(url).json()
    assert (experiment["status"], experiment["winner"]) == ("concluded", "treatment")
    assert [p["id"] for p in experiment["promotions"]] == [promotion["id"]]
    assert Route.objects.get(pk=live_route.route.pk).live_policy.label == "all-premium@v1"


def test_a_second_promotion_gets_a_409_and_an_unknown_variant_a_400(staff_api, started):
    url = f"/api/v1/experiments/{started['id']}/promote"
    assert list(_fields(staff_api.post(url, {"variant": "nope", "reason": "?"}, format="json"))) == [
        "variant"
    ]
    assert (
        staff_api.post(
            url,
            {"variant": "treatment", "reason": "Better.", "override_reason": "No data in this test."},
            format="json",
        ).status_code
        == 201
    )
    again = staff_api.post(url, {"variant": "control", "reason": "Undo."}, format="json")
    assert again.status_code == 409
    assert "it is concluded" in again.json()["error"]["message"]
    assert Promotion.objects.count() == 1


def test_rolling_back_restores_the_previous_policy_once(staff_api, started, live_route):
    promote = f"/api/v1/experiments/{started['id']}/promote"
    promotion = staff_api.post(
        promote,
        {"variant": "treatment", "reason": "Better.", "override_reason": "No data in this test."},
        format="json",
    ).json()
    url = f"/api/v1/promotions/{promotion['id']}/rollback"
    response = staff_api.post(url, {"reason": "Latency complaints."}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["rolled_back_by"], response.json()["rollback_reason"]) == (
        "staff",
        "Latency complaints.",
    )
    assert Route.objects.get(pk=live_route.route.pk).live_policy.label == "by-complexity@v1"
    assert staff_api.post(url, {"reason": "Again."}, format="json").status_code == 409
    assert list(_fields(staff_api.post(url, {}, format="json"))) == ["reason"]


def test_exposures_list_calls_and_users_per_variant(staff_api, started, live_route):
    for variant, user in (("control", "u1"), ("control", "u1"), ("treatment", "u2")):
        CallFactory(
            route=live_route.route, experiment_id=started["id"], variant=variant, phase=1, user_hash=user
        )
    response = staff_api.get(f"/api/v1/experiments/{started['id']}/exposures")
    assert response.json() == [
        {"variant": "control", "phase": 1, "calls": 2, "users": 1},
        {"variant": "treatment", "phase": 1, "calls": 1, "users": 1},
    ]


def test_the_list_filters_by_route_and_status(staff_api, started, payload):
    drafted = {**payload, "name": "drafted", "namespace": "b"}
    assert staff_api.post("/api/v1/experiments", drafted, format="json").status_code == 201
    running = staff_api.get("/api/v1/experiments", {"route": "support-bot", "status": "running"}).json()
    assert [e["name"] for e in running["results"]] == ["premium-test"]
    assert staff_api.get("/api/v1/experiments").json()["count"] == 2
    assert list(_fields(staff_api.get("/api/v1/experiments", {"status": "dancing"}))) == ["status"]


def test_an_unknown_experiment_is_a_404(staff_api):
    assert staff_api.get("/api/v1/experiments/999999").status_code == 404
    assert staff_api.post("/api/v1/experiments/999999/start").status_code == 404


def test_the_api_is_for_staff_only(created, django_user_model):
    client = APIClient()
    client.force_authenticate(django_user_model.objects.create_user("visitor", password="pw-for-tests-only"))
    assert client.get("/api/v1/experiments").status_code == 403
    assert client.post(f"/api/v1/experiments/{created['id']}/start").status_code == 403
    assert Experiment.objects.get().status == "draft"


def test_the_openapi_schema_describes_the_experiments_api(client):
    from openapi_spec_validator import validate

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    validate(schema)
    assert "post" in schema["paths"]["/api/v1/experiments/{experiment_id}/promote"]
    assert "ExperimentCreateInput" in schema["components"]["schemas"]


def test_a_nul_character_in_a_filter_is_a_400_not_a_server_error(staff_api):
    response = staff_api.get("/api/v1/experiments", {"route": "support\x00bot"})
    assert response.status_code == 400
    assert "NUL character" in response.json()["error"]["message"]


def test_a_minimum_sample_beyond_the_columns_range_is_a_400_and_creates_nothing(staff_api, payload):
    response = staff_api.post(
        "/api/v1/experiments", {**payload, "min_sample_per_variant": 2**40}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert not Experiment.objects.filter(name=payload["name"]).exists()


def test_the_verdict_design_is_set_through_the_api_and_checked(staff_api, payload):
    design = {
        "guardrail_margins": {"latency": 0.05},
        "engine": "bayesian",
        "correction": "bh",
        "cuped": False,
        "capping_percentile": 0.99,
    }
    created = staff_api.post("/api/v1/experiments", {**payload, **design}, format="json")
    assert created.status_code == 201, created.json()
    assert {key: created.json()[key] for key in design} == design
    bad = {**payload, "name": "bad", "guardrail_margins": {"cost": 0.1}, "capping_percentile": 0.2}
    assert set(_fields(staff_api.post("/api/v1/experiments", bad, format="json"))) == {
        "guardrail_margins",
        "capping_percentile",
    }
