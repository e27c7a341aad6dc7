"""Offline evaluation of policies: RouteLLM's GSM8K replay, small recorded datasets, live calls to the
simulator, and one run followed from the API through a real Celery worker to its stored results."""

from __future__ import annotations

import csv
import io
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from experiments.evaluation.live import exact_match
from experiments.evaluation.metrics import CurvePoint, apgr
from experiments.evaluation.runner import evaluation_run
from experiments.evaluation.services import evaluation_create
from experiments.models import Dataset, DatasetItem, Evaluation, EvaluationPoint, prompt_hash
from experiments.services import dataset_import
from routing import services
from routing.models import AuditEntry, Call, Provider
from routing.policies import estimate_tokens
from routing.policies.embeddings import embed
from tests.datasets import datasets_dir, require_dataset
from tests.factories import ExperimentFactory

WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG = "gpt-4-1106-preview"

# A small dataset: the weak model is right on 4 of 8 items, the strong one on 7. Hedged weak answers are
# the wrong ones, so a cascade that escalates unsure answers recovers most of the gap.
SMALL_ROWS = [
    ("What is 2 + 2?", "4", True, "4", True, "4"),
    ("Prove that there are infinitely many primes, step by step.", "", False,
     "I'm not sure, maybe there are finitely many.", True, "Assume finitely many primes p1..pn; then "
     "p1*...*pn + 1 has a prime factor outside the list, a contradiction."),
    ("Name the capital of France.", "Paris", True, "Paris", True, "Paris"),
    ("Implement a thread-safe LRU cache in Python and analyse its complexity?  Which lock?", "", False,
     "I think you could perhaps use a dict, I don't know.", True, "Use an OrderedDict guarded by a Lock."),
    ("What colour is a clear daytime sky?", "blue", True, "Blue.", True, "Blue."),
    ("Derive the quadratic formula from ax^2 + bx + c = 0.", "", False, "I don't know.", True,
     "Complete the square: x = (-b ± sqrt(b^2 - 4ac)) / 2a."),
    ("Spell the word cat backwards.", "tac", True, "tac", False, "act"),
    ("Compare and contrast TCP and UDP in depth? What are the trade-offs?", "", False,
     "Maybe TCP is slower? Not sure.", True, "TCP is reliable and ordered; UDP is neither but faster."),
]  # fmt: skip
SMALL_WEAK_ACCURACY, SMALL_STRONG_ACCURACY = 0.5, 0.875

pytestmark = pytest.mark.django_db


# -- data and policies ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def routellm_root() -> Path:
    require_dataset(datasets_dir() / "routellm" / "gsm8k" / "gsm8k_responses.csv")
    return datasets_dir() / "routellm"


def small_dataset(folder: Path, name: str = "small", weak: str = "small-model", strong: str = "big-model"):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["prompt", "reference", weak, f"{weak}_response", strong, f"{strong}_response"])
    writer.writerows(SMALL_ROWS)
    (folder / f"{name}.csv").write_text(out.getvalue(), encoding="utf-8")
    return dataset_import(name=name, path=folder / f"{name}.csv")


def replay_models(dataset: str, weak: str, strong: str) -> SimpleNamespace:
    """A replay provider serving `dataset` with the two models at RouteLLM's prices."""
    provider = services.provider_create(
        name="replay", kind=Provider.Kind.REPLAY, options={"dataset": dataset}
    )
    limits = {"context_window": 32_000, "max_output_tokens": 4096}
    weak_model = services.model_create(
        provider=provider, model_id=weak, tier="cheap", input_price_per_mtok=Decimal("0.24"),
        output_price_per_mtok=Decimal("0.24"), **limits,
    )  # fmt: skip
    strong_model = services.model_create(
        provider=provider, model_id=strong, tier="premium", input_price_per_mtok=Decimal("10"),
        output_price_per_mtok=Decimal("30"), **limits,
    )  # fmt: skip
    return SimpleNamespace(weak=weak_model.key, strong=strong_model.key)


def routing_policies(models: SimpleNamespace, route_name: str = "maths") -> SimpleNamespace:
    route = services.route_create(name=route_name)
    tiers = {"simple": [models.weak], "moderate": [models.weak], "complex": [models.strong]}
    return SimpleNamespace(
        route=route,
        complexity=services.policy_create(
            route=route, name="by-complexity", spec={"kind": "complexity", "tiers": tiers}
        ),
        cascade=services.policy_create(
            route=route,
            name="cascade",
            spec={"kind": "cascade", "chain": [models.weak, models.strong], "threshold": 0.7},
        ),
        strong_only=services.policy_create(
            route=route, name="strong-only", spec={"kind": "rules", "rules": [], "default": models.strong}
        ),
    )


@pytest.fixture
def small(tmp_path) -> SimpleNamespace:
    dataset = small_dataset(tmp_path)
    policies = routing_policies(replay_models("small", "small-model", "big-model"))
    return SimpleNamespace(dataset=dataset, policies=policies)


def run(dataset: Dataset, *versions, mode: str = "recorded", weak: str = "", strong: str = "") -> Evaluation:
    """Evaluate `versions`; recorded, the dataset's first and last model are the weak and strong ones
    unless named (every dataset here lists its weak model first)."""
    if mode == "recorded":
        weak, strong = weak or dataset.model_names[0], strong or dataset.model_names[-1]
    evaluation = evaluation_create(
        dataset=dataset, policy_versions=versions, mode=mode, weak=weak, strong=strong, enqueue=False
    )
    return evaluation_run(evaluation_id=evaluation.id)


def by_label(evaluation: Evaluation) -> dict[str, dict]:
    return {policy["label"]: policy for policy in evaluation.results["policies"]}


def curve(evaluation: Evaluation, label: str) -> list[EvaluationPoint]:
    return list(evaluation.points.filter(label=label).order_by("position"))


# -- RouteLLM's GSM8K ----------------------------------------------------------------------------------------


def test_the_gsm8k_replay_reports_both_accuracies_a_random_apgr_near_one_half_and_both_curves(routellm_root):
    dataset = dataset_import(name="routellm-gsm8k", path=routellm_root / "gsm8k")
    policies = routing_policies(replay_models("routellm-gsm8k", WEAK, STRONG), route_name="gsm8k")

    evaluation = run(dataset, policies.complexity, policies.cascade)

    results = evaluation.results
    assert evaluation.status == "succeeded", evaluation.error
    assert (evaluation.progress_done, evaluation.progress_total) == (2 * 1319, 2 * 1319)
    assert results["dataset"] == {
        "name": "routellm-gsm8k",
        "items": 1319,
        "excluded": 12,
        "quality_scale": 1.0,
    }
    baselines = results["baselines"]
    assert (baselines["weak"]["model"], round(baselines["weak"]["quality"], 4)) == (WEAK, 0.6384)
    assert (baselines["strong"]["model"], round(baselines["strong"]["quality"], 4)) == (STRONG, 0.8567)
    assert 0.45 <= baselines["random"]["apgr"] <= 0.55
    assert results["models"]["strong"]["price_source"] == "registry model replay/gpt-4-1106-preview"
    policy = by_label(evaluation)
    for label in ("gsm8k/by-complexity@v1", "gsm8k/cascade@v1"):
        assert policy[label]["swept"] and len(curve(evaluation, label)) >= 5
        assert 0.0 <= policy[label]["cpt50"] <= policy[label]["cpt80"] <= 1.0
        stored = [
            CurvePoint(p.threshold, p.strong_share, p.quality, p.cost) for p in curve(evaluation, label)
        ]
        weak, strong = baselines["weak"]["quality"], baselines["strong"]["quality"]
        assert policy[label]["apgr"] == pytest.approx(apgr(stored, weak, strong))
        assert 0.0 < policy[label]["apgr"] < 1.0
        assert (stored[0].strong_share, stored[-1].strong_share) == (0.0, 1.0)
    without = results["without_excluded"]
    assert (without["items"], round(without["weak_quality"], 4), round(without["strong_quality"], 4)) == (
        1307,
        0.6373,
        0.8577,
    )
    assert [p["label"] for p in without["policies"]] == ["gsm8k/by-complexity@v1", "gsm8k/cascade@v1"]


# -- recorded runs on a small dataset ------------------------------------------------------------------------


def test_a_cascade_escalates_the_hedged_weak_answers_and_pays_both_calls_when_it_does(small):
    evaluation = run(small.dataset, small.policies.cascade)

    cascade = by_label(evaluation)["maths/cascade@v1"]
    rows = SMALL_ROWS
    weak_cost = [(estimate_tokens(r[0]) * 0.24 + estimate_tokens(r[3]) * 0.24) / 1e6 for r in rows]
    strong_cost = [(estimate_tokens(r[0]) * 10 + estimate_tokens(r[5]) * 30) / 1e6 for r in rows]
    escalated = [not r[2] for r in rows]  # the four hedged answers are the four wrong ones
    expected_cost = (
        sum(w + (s if e else 0) for w, s, e in zip(weak_cost, strong_cost, escalated, strict=True)) / 8
    )
    assert evaluation.status == "succeeded", evaluation.error
    assert (cascade["strong_share"], cascade["quality"]) == (0.5, 1.0)
    assert cascade["cost"] == pytest.approx(expected_cost)
    assert cascade["model_shares"] == {"small-model": 0.5, "big-model": 0.5}
    assert cascade["apgr"] > 0.5 and cascade["cpt80"] <= 0.5


def test_a_policy_without_a_threshold_is_evaluated_at_its_one_operating_point(small):
    evaluation = run(small.dataset, small.policies.strong_only, small.policies.complexity)

    strong_only = by_label(evaluation)["maths/strong-only@v1"]
    assert (strong_only["strong_share"], strong_only["quality"]) == (1.0, SMALL_STRONG_ACCURACY)
    assert (strong_only["swept"], strong_only["apgr"], strong_only["cpt50"]) == (False, None, None)
    assert curve(evaluation, "maths/strong-only@v1") == []
    assert by_label(evaluation)["maths/by-complexity@v1"]["swept"] is True
    assert evaluation.points.filter(series="random").count() == 21
    baselines = {
        p.series: (p.strong_share, p.quality) for p in evaluation.points.filter(series__in=["weak", "strong"])
    }
    assert baselines == {"weak": (0.0, SMALL_WEAK_ACCURACY), "strong": (1.0, SMALL_STRONG_ACCURACY)}


def test_without_registry_models_the_items_are_priced_at_routellms_published_prices(tmp_path, small):
    named_as_routellm = small_dataset(tmp_path, "routellm-names", WEAK, STRONG)

    evaluation = run(named_as_routellm, small.policies.complexity)

    weak = evaluation.results["baselines"]["weak"]
    expected = sum((estimate_tokens(r[0]) + estimate_tokens(r[3])) * 0.24 / 1e6 for r in SMALL_ROWS) / 8
    assert (weak["model"], weak["quality"]) == (WEAK, SMALL_WEAK_ACCURACY)
    assert weak["cost"] == pytest.approx(expected)
    assert evaluation.results["models"]["strong"]["price_source"] == "RouteLLM's published price"
    assert any("RouteLLM's $10 / $30 per million" in note for note in evaluation.results["notes"])
    complexity = by_label(evaluation)["maths/by-complexity@v1"]  # its tiers name the replay provider's keys
    assert (
        complexity["error"].startswith("cannot be judged on the")
        and "replay/small-model" in complexity["error"]
    )
    assert complexity["swept"] is False


def test_running_a_claimed_evaluation_again_does_nothing(small):
    evaluation = run(small.dataset, small.policies.cascade)
    finished_at = evaluation.finished_at

    assert evaluation_run(evaluation_id=evaluation.id) is None
    evaluation.refresh_from_db()
    assert (evaluation.status, evaluation.finished_at) == ("succeeded", finished_at)
    assert curve(evaluation, "maths/cascade@v1") != []


def test_a_dataset_without_two_models_qualities_ends_the_run_failed_with_the_reason(tmp_path, small):
    answers_only = tmp_path / "answers.csv"
    answers_only.write_text("prompt,a_response,b_response\nHi?,Hello.,Hey.\n", encoding="utf-8")
    dataset = dataset_import(name="answers-only", path=answers_only)

    evaluation = run(dataset, small.policies.cascade)

    assert evaluation.status == "failed"
    assert "has no recorded quality in 'answers-only'" in evaluation.error
    assert evaluation.finished_at is not None and evaluation.results == {}


def test_creating_an_evaluation_refuses_what_cannot_be_run_naming_the_field(tmp_path, small):
    one_model = tmp_path / "one.csv"
    one_model.write_text("prompt,m\nHi?,1\n", encoding="utf-8")
    single = dataset_import(name="one-model", path=one_model)

    cases = [
        ({"dataset": small.dataset, "policy_versions": []}, "policy_version_ids"),
        ({"dataset": single, "policy_versions": [small.policies.cascade]}, "dataset"),
        ({"dataset": single, "policy_versions": [small.policies.cascade], "mode": "live"}, "dataset"),
        ({"dataset": small.dataset, "policy_versions": [small.policies.cascade], "mode": "psychic"}, "mode"),
    ]
    for fields, field in cases:
        with pytest.raises(ValidationError) as raised:
            evaluation_create(enqueue=False, **fields)
        assert list(raised.value.message_dict) == [field]
    assert not Evaluation.objects.exists()


# -- live calls ----------------------------------------------------------------------------------------------


def test_a_live_evaluation_asks_the_routed_models_and_scores_their_answers_against_the_references(live_route):
    dataset = Dataset.objects.create(name="live-questions", item_count=3)
    questions = [("What is 2 + 2?", "4"), ("Capital of France?", "Paris"), ("No reference here.", "")]
    for position, (prompt, reference) in enumerate(questions):
        DatasetItem.objects.create(
            dataset=dataset,
            position=position,
            prompt=prompt,
            prompt_hash=prompt_hash(prompt),
            reference=reference,
        )

    evaluation = run(dataset, live_route.version, mode="live")

    policy = evaluation.results["policies"][0]
    simulated = {model.key for model in live_route.models}
    assert evaluation.status == "succeeded", evaluation.error
    assert (policy["label"], policy["items"], policy["answered"], policy["errors"]) == (
        "support-bot/by-complexity@v1",
        2,
        2,
        0,
    )
    assert set(policy["model_shares"]) <= simulated and sum(policy["model_shares"].values()) == pytest.approx(
        1
    )
    assert 0.0 <= policy["quality"] <= 1.0 and policy["cost"] > 0
    assert not Call.objects.exists()  # an evaluation is not traffic of the route


def test_live_answers_match_their_reference_ignoring_case_spacing_and_end_punctuation():
    assert exact_match("  Paris. ", "paris") == 1.0
    assert exact_match("The answer is\n42!", "the answer is 42") == 1.0
    assert exact_match("Paris, France", "Paris") == 0.0


# -- the CLI -------------------------------------------------------------------------------------------------


def test_the_command_runs_an_evaluation_inline_and_prints_the_result_table(small):
    out = io.StringIO()

    call_command(
        "evaluate_policy", "--dataset", "small", "--policy", "maths/cascade@v1",
        "--policy", "maths/by-complexity", "--weak", "small-model", "--strong", "big-model", "--inline",
        stdout=out,
    )  # fmt: skip

    text = out.getvalue()
    assert "[##############################] 100.0%" in text
    assert "policy" in text and "APGR" in text and "CPT(80%)" in text
    assert "maths/cascade@v1" in text and "maths/by-complexity@v1" in text
    assert "weak: small-model" in text and "0.5000" in text and "strong: big-model" in text
    assert "random router" in text
    assert Evaluation.objects.get().status == "succeeded"


def test_the_command_names_an_unknown_dataset_and_a_malformed_policy_reference(small):
    with pytest.raises(CommandError, match="No dataset named 'nope'"):
        call_command("evaluate_policy", "--dataset", "nope", "--policy", "maths/cascade@v1", "--inline")
    with pytest.raises(CommandError, match="No policy version 'maths/cascade@v9'"):
        call_command("evaluate_policy", "--dataset", "small", "--policy", "maths/cascade@v9", "--inline")
    with pytest.raises(CommandError, match="not a policy reference"):
        call_command("evaluate_policy", "--dataset", "small", "--policy", "cascade v1", "--inline")


# -- the web UI ----------------------------------------------------------------------------------------------


def test_the_web_ui_starts_an_evaluation_then_shows_its_curves_summary_and_csv(client, staff_user, small):
    client.force_login(staff_user)
    assert b'id="evaluation-form"' in client.get("/evaluations/").content

    response = client.post(
        "/evaluations/new",
        {
            "dataset": "small",
            "policy_version_ids": [small.policies.cascade.id],
            "mode": "recorded",
            "weak": "small-model",
            "strong": "big-model",
        },
    )
    evaluation = Evaluation.objects.get()
    assert response.status_code == 302 and response.url == f"/evaluations/{evaluation.id}/"
    assert b'id="progress-bar"' in client.get(response.url).content
    evaluation_run(evaluation_id=evaluation.id)

    page = client.get(f"/evaluations/{evaluation.id}/").content.decode()
    progress = client.get(f"/evaluations/{evaluation.id}/progress.json").json()
    rows = list(
        csv.reader(io.StringIO(client.get(f"/evaluations/{evaluation.id}/results.csv").content.decode()))
    )
    assert 'id="curve-figures"' in page and "/evaluations/plotly.js" in page and "maths/cascade@v1" in page
    assert progress == {"status": "succeeded", "done": 8, "total": 8, "progress": 1.0, "error": ""}
    assert rows[0][:3] == ["row", "series", "label"]
    assert rows[1][:3] == ["operating_point", "policy", "maths/cascade@v1"]
    assert any(row[:2] == ["curve_point", "random"] for row in rows)
    assert b"Plotly" in client.get("/evaluations/plotly.js").content


def test_a_bad_form_is_shown_again_with_the_fields_errors(client, staff_user, small):
    client.force_login(staff_user)

    response = client.post("/evaluations/new", {"dataset": "small", "mode": "recorded"})

    assert response.status_code == 400
    assert b"This field is required" in response.content
    assert not Evaluation.objects.exists()


def test_a_finished_evaluation_is_attached_to_an_experiment_as_evidence(client, staff_user, small):
    client.force_login(staff_user)
    experiment = ExperimentFactory(
        route=small.policies.route, control=small.policies.strong_only, treatment=small.policies.cascade
    )
    evaluation = run(small.dataset, small.policies.cascade)

    client.post(f"/evaluations/{evaluation.id}/attach", {"experiment": experiment.id})

    evaluation.refresh_from_db()
    assert evaluation.experiment_id == experiment.id and evaluation.attached_at is not None
    entry = AuditEntry.objects.get(action="experiment.attach_evaluation")
    assert (entry.target_id, entry.changes["evaluation"]) == (str(experiment.id), evaluation.id)


def test_the_pages_are_for_staff_only(client, django_user_model, small):
    client.force_login(django_user_model.objects.create_user("visitor", password="pw-for-tests-only"))

    assert client.get("/evaluations/").status_code == 302
    assert client.get("/api/v1/evaluations").status_code == 403


# -- the REST API and a real worker --------------------------------------------------------------------------


def test_the_api_refuses_an_unknown_dataset_and_an_empty_policy_list_naming_each_field(staff_api, small):
    response = staff_api.post(
        "/api/v1/evaluations", {"dataset": "nope", "policy_version_ids": []}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"dataset", "policy_version_ids"}


def test_a_recorded_evaluation_needs_its_weak_and_strong_model_named_never_inferred(
    client, staff_user, small
):
    versions = [small.policies.cascade]
    same = {"weak": "big-model", "strong": "big-model"}
    cases = [({}, "weak"), ({"weak": "small-model"}, "strong"), (same, "strong")]
    for named, field in cases:
        with pytest.raises(ValidationError) as raised:
            evaluation_create(dataset=small.dataset, policy_versions=versions, enqueue=False, **named)
        assert list(raised.value.message_dict) == [field]

    client.force_login(staff_user)
    body = {"dataset": "small", "policy_version_ids": [small.policies.cascade.id], "mode": "recorded"}
    page = client.post("/evaluations/new", {**body, "weak": "small-model"})
    assert page.status_code == 400
    text = page.content.decode()
    assert "Name the strong model of the comparison (one of small-model, big-model)." in text
    assert '<option value="big-model">' in text  # the form offers the datasets' model names
    assert not Evaluation.objects.exists()

    swapped = run(small.dataset, small.policies.complexity, weak="big-model", strong="small-model")
    weak = swapped.results["baselines"]["weak"]
    assert (weak["model"], weak["quality"]) == ("big-model", SMALL_STRONG_ACCURACY)


def _decided_strong_share(spec: dict, replay, embed=None) -> float:
    """The share of the replay's items the policy of `spec` sends to the strong model, decided online."""
    from routing.policies import RouteRequest, RoutingContext, compile_policy

    policy = compile_policy(spec)
    context = RoutingContext(candidates=(replay.weak.candidate, replay.strong.candidate), embed=embed)
    chosen = [
        policy.decide(RouteRequest(text=row.prompt, input_tokens=estimate_tokens(row.prompt)), context).model
        for row in replay.rows
    ]
    return chosen.count(replay.strong.key) / len(chosen)


def test_a_complexity_point_published_from_the_curve_decides_as_the_curve_did(small):
    from experiments.evaluation.replay import replay_load
    from experiments.evaluation.services import operating_point_publish

    version = small.policies.complexity
    evaluation = run(small.dataset, version)
    replay = replay_load(small.dataset, weak="small-model", strong="big-model")
    points = curve(evaluation, "maths/by-complexity@v1")
    assert len(points) >= 3
    for point in points:
        if point.threshold > 1:  # every item weak: no complexity cut does that
            with pytest.raises(ValidationError, match="publish a rules policy"):
                operating_point_publish(evaluation=evaluation, version=version, threshold=point.threshold)
            continue
        published = operating_point_publish(evaluation=evaluation, version=version, threshold=point.threshold)
        assert _decided_strong_share(published.spec, replay) == pytest.approx(point.strong_share)
        assert f"threshold {point.threshold:.6g}" in published.note


def test_a_semantic_policys_similarity_is_swept_and_a_point_published(small):
    from experiments.evaluation.replay import replay_load
    from experiments.evaluation.services import operating_point_publish

    tiers = small.policies.complexity.spec["tiers"]
    weak, strong = tiers["simple"][0], tiers["complex"][0]
    utterances = ["Prove this theorem step by step.", "Derive the formula and compare the trade-offs."]
    hard = {"name": "hard", "model": strong, "utterances": utterances}
    route = small.policies.route
    spec = {"kind": "semantic", "routes": [hard], "default": weak, "threshold": 0.3}
    semantic = services.policy_create(route=route, name="semantic", spec=spec)
    both = [hard, {**hard, "name": "easy", "model": weak}]
    mixed = services.policy_create(
        route=route, name="mixed", spec={"kind": "semantic", "routes": both, "default": weak}
    )

    evaluation = run(small.dataset, semantic, mixed)

    figures = by_label(evaluation)
    assert figures["maths/semantic@v1"]["swept"] is True and figures["maths/semantic@v1"]["apgr"] is not None
    assert figures["maths/mixed@v1"]["swept"] is False  # its routes name both models: no single cut
    points = curve(evaluation, "maths/semantic@v1")
    by_threshold = sorted(points, key=lambda point: point.threshold)
    shares = [point.strong_share for point in by_threshold]  # strong at or above the cut: fewer as it rises
    assert shares[0] == 1.0 and shares[-1] == 0.0 and shares == sorted(shares, reverse=True)
    inside = next(point for point in points if 0 < point.strong_share < 1)
    published = operating_point_publish(evaluation=evaluation, version=semantic, threshold=inside.threshold)
    assert published.spec == {**semantic.spec, "threshold": inside.threshold}
    replay = replay_load(small.dataset, weak="small-model", strong="big-model")
    assert _decided_strong_share(published.spec, replay, embed) == pytest.approx(inside.strong_share)


def test_the_openapi_schema_describes_the_evaluations_api(client):
    from openapi_spec_validator import validate

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    validate(schema)
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/evaluations"])
    assert "get" in schema["paths"]["/api/v1/evaluations/{evaluation_id}"]
    assert "EvaluationCreateInput" in schema["components"]["schemas"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_evaluation_posted_to_the_api_is_run_by_a_real_worker_and_its_results_read_back(
    tmp_path, staff_api, celery_worker_thread
):
    dataset = small_dataset(tmp_path)
    policies = routing_policies(replay_models("small", "small-model", "big-model"))
    ids = [policies.complexity.id, policies.cascade.id]

    created = staff_api.post(
        "/api/v1/evaluations",
        {"dataset": "small", "policy_version_ids": ids, "mode": "recorded"},
        format="json",
    )
    assert created.status_code == 400 and set(created.json()["error"]["fields"]) == {"weak"}
    created = staff_api.post(
        "/api/v1/evaluations",
        {"dataset": "small", "policy_version_ids": ids, "weak": "small-model", "strong": "big-model"},
        format="json",
    )
    assert created.status_code == 201, created.content
    url = f"/api/v1/evaluations/{created.json()['id']}"
    body = staff_api.get(url).json()
    deadline = time.monotonic() + 60
    while body["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        body = staff_api.get(url).json()

    assert body["status"] == "succeeded", body["error"]
    assert body["progress"] == {"done": 16, "total": 16, "fraction": 1.0}
    assert body["results"]["baselines"]["weak"]["quality"] == SMALL_WEAK_ACCURACY
    assert body["results"]["baselines"]["strong"]["quality"] == SMALL_STRONG_ACCURACY
    assert [p["label"] for p in body["results"]["policies"]] == ["maths/by-complexity@v1", "maths/cascade@v1"]
    stored = Evaluation.objects.get(id=body["id"])
    assert stored.dataset_id == dataset.id and stored.started_at <= stored.finished_at
    assert {c["label"] for c in body["curves"] if c["series"] == "policy"} == {
        "maths/by-complexity@v1",
        "maths/cascade@v1",
    }
    assert stored.points.count() == sum(len(c["points"]) for c in body["curves"])


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_command_waits_for_a_real_worker_following_its_progress_to_the_result_table(
    tmp_path, celery_worker_thread
):
    small_dataset(tmp_path)
    routing_policies(replay_models("small", "small-model", "big-model"))
    out = io.StringIO()

    call_command(
        "evaluate_policy", "--dataset", "small", "--policy", "maths/cascade@v1", "--weak", "small-model",
        "--strong", "big-model", "--wait", stdout=out,
    )  # fmt: skip

    text = out.getvalue()
    evaluation = Evaluation.objects.get()
    assert evaluation.status == "succeeded" and evaluation.started_at is not None
    assert "100.0% 8/8 succeeded" in text
    assert "maths/cascade@v1" in text and "random router" in text
