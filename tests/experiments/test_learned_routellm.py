"""A learned router on RouteLLM's shipped data, seeded 80/20 split by prompt: its held-out APGR with a
95% interval for GSM8K, MMLU and MT-Bench, and on MMLU at least 0.62 and above the complexity policy's
on the same held-out items. Embedding MMLU's 14,042 prompts takes a few minutes on two cores."""

from __future__ import annotations

import re

import pytest

from experiments.evaluation.runner import evaluation_run
from experiments.evaluation.services import evaluation_create
from experiments.models import DatasetItem, Evaluation
from experiments.services import dataset_import
from routing import services
from routing.models import TrainedRouter
from tests.datasets import datasets_dir, require_dataset
from tests.experiments.test_evaluation import STRONG, WEAK, replay_models
from tests.experiments.test_learned_routers import train

pytestmark = pytest.mark.django_db
HELD_OUT_LINE = re.compile(
    r"Held-out APGR .* -> .*: (?P<apgr>[-0-9.]+) "
    r"\(95% CI (?P<low>[-0-9.]+) to (?P<high>[-0-9.]+)\) over (?P<n>\d+)"
)


def trained(folder: str, name: str) -> tuple[TrainedRouter, re.Match]:
    root = require_dataset(datasets_dir() / "routellm" / folder)
    dataset_import(name=name, path=root)
    output = train("--dataset", name, "--name", f"{name}-knn", "--seed", "0", "--heldout", "0.2",
                   "--weak", WEAK, "--strong", STRONG)  # fmt: skip
    match = HELD_OUT_LINE.search(output)
    assert match, output
    return TrainedRouter.objects.get(name=f"{name}-knn"), match


@pytest.mark.parametrize(("folder", "prompts"), [("gsm8k", 1319), ("mt_bench", 80)])
def test_the_held_out_apgr_and_its_interval_are_printed(folder, prompts):
    router, printed = trained(folder, f"routellm-{folder.replace('_', '-')}")
    assert router.split["train_prompts"] + router.split["heldout_prompts"] == prompts  # MT-Bench: first turns
    assert router.split["heldout_prompts"] == round(0.2 * prompts)
    pair = router.metrics["pair"]
    assert float(printed["low"]) <= float(printed["apgr"]) <= float(printed["high"])
    assert float(printed["apgr"]) == pytest.approx(pair["apgr"], abs=5e-4)


def test_on_mmlu_the_learned_router_reaches_062_and_beats_complexity_on_the_same_held_out_items():
    router, printed = trained("mmlu", "routellm-mmlu")
    assert router.metrics["pair"]["apgr"] >= 0.62, router.metrics
    assert float(printed["low"]) < float(printed["apgr"]) < float(printed["high"])

    models = replay_models("routellm-mmlu", WEAK, STRONG)
    route = services.route_create(name="mmlu")
    learned = services.policy_create(
        route=route,
        name="learned",
        spec={
            "kind": "learned",
            "router": router.label,
            "models": [models.weak, models.strong],
            "threshold": 0,
        },
    )
    tiers = {"simple": [models.weak], "moderate": [models.weak], "complex": [models.strong]}
    complexity = services.policy_create(
        route=route, name="complexity", spec={"kind": "complexity", "tiers": tiers}
    )
    evaluation = evaluation_create(
        dataset=router_dataset(),
        policy_versions=[learned, complexity],
        weak=WEAK,
        strong=STRONG,
        enqueue=False,
    )
    evaluation = evaluation_run(evaluation_id=evaluation.id)
    assert evaluation.status == Evaluation.Status.SUCCEEDED, evaluation.error
    held_out_items = DatasetItem.objects.filter(
        dataset__name="routellm-mmlu", prompt_hash__in=router.heldout_hashes
    )
    assert (
        evaluation.results["dataset"]["items"] == held_out_items.count()
    )  # a prompt asked twice counts twice
    headline = {p["kind"]: p for p in evaluation.results["without_excluded"]["policies"]}
    print(
        "MMLU held out, without the excluded items:",
        {k: (p["apgr"], p["apgr_low"], p["apgr_high"]) for k, p in headline.items()},
    )
    assert headline["learned"]["apgr"] >= 0.62
    assert headline["learned"]["apgr"] > headline["complexity"]["apgr"]


def router_dataset():
    from experiments.models import Dataset

    return Dataset.objects.get(name="routellm-mmlu")
