"""Learned routers on a small recorded dataset: training (command, versions, the embedding store), the
`learned` policy kind through both routing endpoints, offline evaluation on the held-out prompts, and
the refusals of bad input with nothing half-saved."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from experiments.models import Evaluation, RouterTraining
from experiments.services import dataset_import
from routing import services
from routing.gateway.recorder import calls_flush
from routing.models import Call, PolicyVersion, TextEmbedding, TrainedRouter
from tests.experiments.test_evaluation import replay_models, run

pytestmark = pytest.mark.django_db

WEAK, STRONG = "small-model", "big-model"
SUMS = [(a, b) for a in range(3, 13) for b in (4, 7, 9)]  # 30 arithmetic prompts: both models right
TOPICS = [
    "the doctrine of promissory estoppel in English contract law",
    "the pathophysiology of diabetic ketoacidosis",
    "the proof of the spectral theorem for compact self-adjoint operators",
    "the causes of the collapse of the Bretton Woods system",
    "the mechanism of CRISPR-Cas9 off-target cleavage",
    "quantum error correction with surface codes",
    "the Coase theorem and transaction costs",
    "the immunology of mRNA vaccine adjuvants",
    "the Navier-Stokes existence and smoothness problem",
    "the legal test for negligence after Donoghue v Stevenson",
]
STYLES = ["Explain in depth", "Give a rigorous account of", "Critically analyse"]


def rows() -> list[tuple[str, bool, bool]]:
    """(prompt, weak right, strong right): the weak model fails every hard essay question."""
    easy = [(f"What is {a} plus {b}?", True, True) for a, b in SUMS]
    hard = [(f"{style} {topic}.", False, True) for topic in TOPICS for style in STYLES]
    return easy + hard


def write_dataset(folder: Path, name: str = "topics", models=(WEAK, STRONG)) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["prompt", *models])
    for prompt, weak_right, strong_right in rows():
        writer.writerow([prompt, weak_right, strong_right][: 1 + len(models)])
    path = folder / f"{name}.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def topics(tmp_path) -> SimpleNamespace:
    dataset = dataset_import(name="topics", path=write_dataset(tmp_path))
    return SimpleNamespace(dataset=dataset, models=replay_models("topics", WEAK, STRONG), folder=tmp_path)


def train(*args: str) -> str:
    out = io.StringIO()
    call_command("train_router", *args, stdout=out)
    return out.getvalue()


def test_training_saves_a_versioned_router_with_its_split_counts_and_held_out_figures(topics):
    output = train(
        "--dataset", "topics", "--name", "topics-knn", "--param", "k=5", "--weak", WEAK, "--strong", STRONG
    )

    router = TrainedRouter.objects.get()
    assert router.label == "topics-knn@v1" and router.family == "knn"
    assert router.hyperparameters == {"k": 5}
    assert router.model_names == [WEAK, STRONG]
    assert router.source["dataset"] == "topics" and router.source["counts"] == {WEAK: 60, STRONG: 60}
    assert router.split["seed"] == 0 and router.split["heldout_prompts"] == 12
    assert router.split["train_counts"] == {WEAK: 48, STRONG: 48}
    assert len(router.heldout_hashes) == 12
    pair = router.metrics["pair"]
    assert pair["apgr"] >= 0.7 and pair["apgr_low"] <= pair["apgr"] <= pair["apgr_high"]
    assert "Saved topics-knn@v1" in output
    assert f"Held-out APGR {WEAK} -> {STRONG}: {pair['apgr']:.3f} (95% CI" in output
    assert TextEmbedding.objects.count() == 60
    assert RouterTraining.objects.get().status == "succeeded"

    train("--dataset", "topics", "--name", "topics-knn", "--family", "mf")
    assert list(TrainedRouter.objects.values_list("version", "family")) == [(2, "mf"), (1, "knn")]
    assert TextEmbedding.objects.count() == 60  # each prompt embedded once, however often it is trained on


def learned_spec(models, router: str = "topics-knn", **mode) -> dict:
    return {
        "kind": "learned",
        "router": router,
        "models": [models.weak, models.strong],
        **(mode or {"threshold": 0.3}),
    }


@pytest.fixture
def learned_route(topics):
    train("--dataset", "topics", "--name", "topics-knn", "--param", "k=5")
    route = services.route_create(name="essays")
    version = services.policy_create(route=route, name="learned", spec=learned_spec(topics.models))
    _, raw = services.api_key_create(name="app", routes=[route])
    return SimpleNamespace(
        **vars(topics), route=route, version=version, auth={"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    )


def test_a_published_learned_spec_is_pinned_to_the_router_version_it_was_checked_against(learned_route):
    assert learned_route.version.spec["router"] == "topics-knn@v1"
    train("--dataset", "topics", "--name", "topics-knn", "--param", "k=9")
    assert PolicyVersion.objects.get(id=learned_route.version.id).spec["router"] == "topics-knn@v1"


@pytest.mark.parametrize(
    ("text", "expected"), [("What is 5 plus 8?", "weak"), ("Critically analyse the Coase theorem.", "strong")]
)
def test_the_route_api_sends_the_prompts_the_router_predicts_weak_to_lose_to_the_strong_model(
    client, learned_route, text, expected
):
    response = client.post(
        "/api/v1/route",
        {"messages": [{"role": "user", "content": text}]},
        content_type="application/json",
        **learned_route.auth,
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == getattr(learned_route.models, expected)
    trace = " ".join(body["trace"])
    assert f"predicted quality (topics-knn@v1): {learned_route.models.weak} " in trace
    assert "threshold 0.3" in trace
    assert body["fallbacks"] == [getattr(learned_route.models, "strong" if expected == "weak" else "weak")]


def test_the_chat_endpoint_serves_a_learned_decision_and_records_it(client, learned_route):
    prompt = "Give a rigorous account of the Navier-Stokes existence and smoothness problem."
    response = client.post(
        "/v1/chat/completions",
        {"model": "essays", "messages": [{"role": "user", "content": prompt}]},
        content_type="application/json",
        **learned_route.auth,
    )
    assert response.status_code == 200, response.content
    assert response.json()["model"] == STRONG
    assert calls_flush() == 1
    call = Call.objects.get()
    assert call.model_key == learned_route.models.strong
    assert call.decision["kind"] == "learned"


def test_n_model_modes_choose_the_cheapest_good_enough_or_the_best_value(learned_route):
    from routing.gateway.snapshot import policy_entry

    for mode, value in (("min_quality", 0.9), ("cost_weight", 10.0)):
        version = services.policy_publish(
            policy=learned_route.version.policy, spec=learned_spec(learned_route.models, **{mode: value})
        )
        entry = policy_entry(version)
        assert entry.router is not None and entry.policy.mode == mode


def test_an_offline_evaluation_scores_a_learned_router_on_its_held_out_prompts_only(learned_route):
    complexity = services.policy_create(
        route=learned_route.route,
        name="by-complexity",
        spec={
            "kind": "complexity",
            "tiers": {
                "simple": [learned_route.models.weak],
                "moderate": [learned_route.models.weak],
                "complex": [learned_route.models.strong],
            },
        },
    )
    evaluation = run(learned_route.dataset, learned_route.version, complexity)
    assert evaluation.status == Evaluation.Status.SUCCEEDED, evaluation.error
    results = evaluation.results
    assert results["dataset"]["items"] == 12
    assert any("held out in training" in note for note in results["notes"])
    learned = next(p for p in results["policies"] if p["kind"] == "learned")
    assert learned["swept"] and learned["apgr"] is not None
    assert learned["apgr_low"] <= learned["apgr"] <= learned["apgr_high"]


def test_a_one_model_dataset_is_refused_and_nothing_is_saved(tmp_path, topics):
    dataset_import(name="lonely", path=write_dataset(tmp_path, "lonely", models=(WEAK,)))
    with pytest.raises(
        CommandError, match=r"needs the qualities of at least two; this data has 1 \(small-model\)"
    ):
        train("--dataset", "lonely", "--name", "lonely-knn")
    assert not TrainedRouter.objects.exists()
    assert RouterTraining.objects.get().status == "failed"


def test_bad_training_requests_are_refused_naming_the_problem(topics):
    cases = [
        (("--dataset", "nope", "--name", "r"), "no dataset named 'nope'"),
        (("--dataset", "topics", "--name", "bad name"), "'bad name' is not a router name"),
        (("--dataset", "topics", "--name", "r", "--param", "k=0"), r"k must be within \[1, 1000\]"),
        (("--dataset", "topics", "--name", "r", "--weak", WEAK), "name both the weak and the strong model"),
        (
            ("--dataset", "topics", "--name", "r", "--weak", WEAK, "--strong", "gpt-9"),
            "strong model 'gpt-9' is not",
        ),
        (("--route", "nope", "--name", "r"), "--route needs --since"),
        (("--route", "nope", "--since", "2026-01-01", "--name", "r"), "no route named 'nope'"),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            train(*args)
    assert not TrainedRouter.objects.exists()


def test_a_spec_naming_an_unknown_router_or_other_models_is_refused_and_no_version_is_saved(learned_route):
    policy = learned_route.version.policy
    with pytest.raises(ValidationError, match="no trained router 'missing'"):
        services.policy_publish(policy=policy, spec=learned_spec(learned_route.models, router="missing"))
    other = services.model_create(
        provider=services.provider_create(name="other", kind="openai", base_url="https://example.invalid/v1"),
        model_id="gpt-other", tier="mid", input_price_per_mtok=1, output_price_per_mtok=1,
        context_window=8000, max_output_tokens=1000,
    )  # fmt: skip
    spec = {
        "kind": "learned",
        "router": "topics-knn",
        "models": [learned_route.models.weak, other.key],
        "threshold": 0,
    }
    with pytest.raises(ValidationError, match=f"predicts {WEAK}, {STRONG}, not {other.key}"):
        services.policy_publish(policy=policy, spec=spec)
    with pytest.raises(ValidationError, match="exactly one of threshold, min_quality or cost_weight"):
        services.policy_publish(
            policy=policy, spec={**learned_spec(learned_route.models), "min_quality": 0.5}
        )
    assert PolicyVersion.objects.filter(policy=policy).count() == 1


def test_the_routes_api_refuses_a_learned_spec_with_an_unknown_router_as_a_400(staff_api, learned_route):
    response = staff_api.post(
        "/api/v1/routes/essays/policies/learned/versions",
        {"spec": learned_spec(learned_route.models, router="missing")},
        format="json",
    )
    assert response.status_code == 400
    assert "no trained router 'missing'" in json.dumps(response.json())


@pytest.fixture
def trainer(staff_user):
    from django.contrib.auth.models import Permission

    staff_user.user_permissions.add(Permission.objects.get(codename="add_routertraining"))
    return staff_user


def test_training_through_the_api_needs_the_permission_and_a_real_worker_runs_it(
    transactional_db, staff_api, trainer, tmp_path, celery_worker_thread
):
    import time

    from django.contrib.auth.models import Permission

    dataset_import(name="topics", path=write_dataset(tmp_path))
    body = {
        "name": "api-knn",
        "dataset": "topics",
        "hyperparameters": {"k": 5},
        "weak": WEAK,
        "strong": STRONG,
    }
    trainer.user_permissions.clear()
    denied = staff_api.post("/api/v1/routers/trainings", body, format="json")
    assert denied.status_code == 403 and "add_routertraining" in json.dumps(denied.json())

    trainer.user_permissions.add(Permission.objects.get(codename="add_routertraining"))
    staff_api.force_authenticate(
        type(trainer).objects.get(id=trainer.id)
    )  # permissions are cached per user object
    created = staff_api.post("/api/v1/routers/trainings", body, format="json")
    assert created.status_code == 201, created.json()
    run_id = created.json()["id"]
    deadline = time.monotonic() + 60
    while (run := staff_api.get(f"/api/v1/routers/trainings/{run_id}").json())["status"] not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline, run
        time.sleep(0.2)
    assert run["status"] == "succeeded", run["error"]
    assert run["router"] == "api-knn@v1" and run["progress_done"] == run["progress_total"] == 60
    detail = staff_api.get("/api/v1/routers/api-knn").json()
    assert detail["split"]["heldout_prompts"] == 12 and detail["metrics"]["pair"]["apgr"] is not None
    assert [r["label"] for r in staff_api.get("/api/v1/routers").json()["results"]] == ["api-knn@v1"]
    assert staff_api.get("/api/v1/routers/nope@v3").status_code == 404


def test_the_api_refuses_a_bad_training_request_with_a_400_naming_the_problem(staff_api, trainer, topics):
    staff_api.force_authenticate(type(trainer).objects.get(id=trainer.id))
    cases = [
        ({"name": "r", "family": "tree", "dataset": "topics"}, "family"),
        ({"name": "r", "dataset": "topics", "route": "essays"}, "not both or neither"),
        ({"name": "r", "route": "essays"}, "needs since"),
        ({"name": "r", "dataset": "topics", "hyperparameters": {"k": 0}}, "k must be within"),
        ({"name": "r", "dataset": "topics", "heldout_fraction": 2}, "heldout_fraction"),
    ]
    for body, message in cases:
        response = staff_api.post("/api/v1/routers/trainings", body, format="json")
        assert response.status_code == 400, (body, response.json())
        assert message in json.dumps(response.json()), (body, response.json())
    assert not RouterTraining.objects.exists()


def test_the_web_pages_train_a_router_follow_its_progress_and_show_its_figures(client, trainer, topics):
    client.force_login(trainer)
    page = client.get("/routers/")
    assert page.status_code == 200 and b'id="train-form"' in page.content
    bad = client.post(
        "/routers/train",
        {"name": "web-knn", "family": "knn", "scorer": "x", "seed": 0, "heldout_fraction": 0.2},
    )
    assert bad.status_code == 400 and b"Choose a dataset or a route" in bad.content
    form = {"name": "web-knn", "family": "knn", "dataset": "topics", "scorer": "recorded_quality", "k": 5,
            "seed": 0, "heldout_fraction": 0.2, "weak": WEAK, "strong": STRONG}  # fmt: skip
    response = client.post("/routers/train", form)
    run = RouterTraining.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/routers/trainings/{run.id}/"
    assert b'id="progress-bar"' in client.get(response["Location"]).content

    from experiments.services.training import router_training_run

    router_training_run(run_id=run.id)  # the worker's job, run here
    progress = client.get(f"/routers/trainings/{run.id}/progress.json").json()
    assert progress["status"] == "succeeded" and progress["router"] == "web-knn@v1"
    router = TrainedRouter.objects.get()
    detail = client.get(f"/routers/{router.id}/").content.decode()
    assert f"APGR <strong>{router.metrics['pair']['apgr']:.3f}</strong>" in detail
    assert "48 training and 12 held-out prompts" in detail


def test_a_staff_user_without_the_permission_cannot_train_from_the_web(client, staff_user, topics):
    client.force_login(staff_user)
    assert b"Training needs the permission" in client.get("/routers/").content
    response = client.post("/routers/train", {"name": "x", "family": "knn", "dataset": "topics"})
    assert response.status_code == 403
    assert not RouterTraining.objects.exists()


# -- three models --------------------------------------------------------------------------------------------

MID = "mid-model"


def write_three(folder: Path) -> Path:
    """The topics with a third model, right on the sums and on the first style of each essay topic."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["prompt", WEAK, MID, STRONG])
    for prompt, weak_right, strong_right in rows():
        writer.writerow([prompt, weak_right, weak_right or prompt.startswith(STYLES[0]), strong_right])
    path = folder / "three.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def three(tmp_path):
    from decimal import Decimal

    dataset = dataset_import(name="three", path=write_three(tmp_path))
    from routing.models import Provider

    models = replay_models("three", WEAK, STRONG)
    mid = services.model_create(
        provider=Provider.objects.get(name="replay"), model_id=MID, tier="mid",
        input_price_per_mtok=Decimal("2"), output_price_per_mtok=Decimal("6"),
        context_window=32_000, max_output_tokens=4096,
    )  # fmt: skip
    train("--dataset", "three", "--name", "three-knn", "--param", "k=5")
    route = services.route_create(name="three")
    learned = services.policy_create(
        route=route,
        name="learned",
        spec={
            "kind": "learned",
            "router": "three-knn",
            "models": [models.weak, mid.key, models.strong],
            "min_quality": 0.5,
        },
    )
    return SimpleNamespace(dataset=dataset, models=models, mid=mid, learned=learned)


def evaluate(*args: str) -> str:
    out = io.StringIO()
    call_command("evaluate_policy", *args, "--inline", stdout=out)
    return out.getvalue()


def test_a_three_model_evaluation_shows_every_model_the_frontier_best_single_and_oracle(three):
    args = ("--dataset", "three", "--policy", "three/learned", "--weak", WEAK, "--strong", STRONG)
    table = evaluate(*args)
    assert f"Every model (Pareto frontier: {WEAK}, {MID}, {STRONG}):" in table
    for label in (WEAK, MID, STRONG, f"best single: {STRONG}", "oracle", "random", "three/learned@v1"):
        assert label in table

    summary = json.loads(evaluate(*args, "--json"))
    many = summary["many_models"]
    assert [m["name"] for m in many["models"]] == [WEAK, MID, STRONG]
    assert many["best_single"]["name"] == STRONG and many["oracle"]["quality"] == 1.0
    assert (
        many["oracle"]["cost"] < many["best_single"]["cost"]
    )  # the oracle sends the sums to the cheap model
    learned = many["policies"][0]
    assert learned["label"] == "three/learned@v1" and set(learned["model_shares"]) == {WEAK, MID, STRONG}
    assert learned["quality"] > many["random"]["quality"]
    policy = summary["policies"][0]
    assert set(policy) >= {
        "apgr",
        "apgr_low",
        "apgr_high",
        "cpt50",
        "cpt80",
        "quality",
        "cost",
        "strong_share",
    }


def test_an_evaluation_refuses_a_weak_or_strong_model_the_dataset_does_not_hold(three):
    with pytest.raises(CommandError, match="'gpt-9' is not a model of three"):
        evaluate("--dataset", "three", "--policy", "three/learned", "--weak", WEAK, "--strong", "gpt-9")
    with pytest.raises(CommandError, match="Name the strong model of the comparison"):
        evaluate("--dataset", "three", "--policy", "three/learned", "--weak", WEAK)


def test_an_operating_point_of_the_curve_becomes_a_policy_version_and_then_an_experiment_form(
    client, staff_user, learned_route
):
    from django.contrib.auth.models import Permission

    evaluation = run(learned_route.dataset, learned_route.version)
    point = evaluation.points.filter(series="policy").order_by("position")[3]
    client.force_login(staff_user)
    page = client.get(f"/evaluations/{evaluation.id}/").content.decode()
    assert "Publishing needs the permission" in page
    body = {"version": learned_route.version.id, "threshold": repr(point.threshold)}
    assert client.post(f"/evaluations/{evaluation.id}/operating-point", body).status_code == 403

    staff_user.user_permissions.add(Permission.objects.get(codename="add_policyversion"))
    client.force_login(type(staff_user).objects.get(id=staff_user.id))
    assert (
        f'id="publish-{learned_route.version.id}"'
        in client.get(f"/evaluations/{evaluation.id}/").content.decode()
    )
    off_curve = client.post(f"/evaluations/{evaluation.id}/operating-point", {**body, "threshold": "0.123"})
    assert (
        off_curve.status_code == 302
        and PolicyVersion.objects.filter(policy=learned_route.version.policy).count() == 1
    )

    response = client.post(f"/evaluations/{evaluation.id}/operating-point", body)
    published = PolicyVersion.objects.get(policy=learned_route.version.policy, number=2)
    assert published.spec["threshold"] == point.threshold and published.spec["router"] == "topics-knn@v1"
    assert f"operating point of evaluation #{evaluation.id}" in published.note
    assert response.status_code == 302
    assert response["Location"].startswith("/experiments/new?route=essays&treatment=")
    form = client.get(response["Location"]).content.decode()
    assert f'<option value="{published.id}" selected>' in form
    assert f'<option value="{learned_route.version.id}" selected>' in form  # the live policy as the control


def test_every_items_decisions_export_as_csv(client, staff_user, learned_route):
    evaluation = run(learned_route.dataset, learned_route.version)
    client.force_login(staff_user)
    response = client.get(f"/evaluations/{evaluation.id}/decisions.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.content.decode())))
    assert table[0] == [
        "item", "prompt_sha256", "excluded", f"quality {WEAK}", f"quality {STRONG}",
        "essays/learned@v1 model", "essays/learned@v1 score",
    ]  # fmt: skip
    assert len(table) == 1 + 12
    assert {row[5] for row in table[1:]} <= {WEAK, STRONG}
    strong_share = sum(row[5] == STRONG for row in table[1:]) / 12
    learned = next(p for p in evaluation.results["policies"] if p["kind"] == "learned")
    assert strong_share == pytest.approx(learned["strong_share"])
