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
        provider=learned_route.models_provider if hasattr(learned_route, "models_provider") else
        services.provider_create(name="other", kind="openai", base_url="https://example.invalid/v1"),
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
