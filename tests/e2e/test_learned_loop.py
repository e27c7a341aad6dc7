"""The loop from the platform's own traffic: GSM8K prompts sent through /v1/chat/completions, split at
random between the two recorded models by an experiment (one variant per model), answered by the replay
provider, scored by a real worker with the recorded-quality scorer; a router trained on those calls alone
(each call tells one model's quality) routes the held-out prompts about as well as one trained on the
whole dataset (both models' qualities for every prompt)."""

from __future__ import annotations

import time

import pytest
from django.db.models import Count
from django.utils import timezone

from analytics.models import Score
from experiments import services as experiments
from experiments.evaluation.runner import evaluation_run
from experiments.evaluation.services import evaluation_create
from experiments.models import Dataset, DatasetItem, Experiment
from experiments.services.training import router_train
from routing import services
from routing.gateway.recorder import calls_flush
from routing.models import Call
from tests.datasets import datasets_dir, require_dataset
from tests.experiments.test_evaluation import STRONG, WEAK, replay_models

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_router_trained_on_routed_calls_is_within_005_apgr_of_one_trained_on_the_whole_dataset(
    client, staff_user, celery_worker_thread
):
    started = timezone.now()
    folder = require_dataset(datasets_dir() / "routellm" / "gsm8k")
    dataset = experiments.dataset_import(name="routellm-gsm8k", path=folder)
    full = router_train(
        name="gsm8k-full", family="knn", source="dataset", source_args={"dataset": dataset.name},
        weak=WEAK, strong=STRONG,
    )  # fmt: skip
    held_out = set(full.heldout_hashes)
    training_prompts = list(
        DatasetItem.objects.filter(dataset=dataset)
        .exclude(prompt_hash__in=held_out)
        .values_list("prompt", flat=True)
    )

    models = replay_models(dataset.name, WEAK, STRONG)
    route = services.route_create(name="gsm8k", scoring={"scorers": ["recorded_quality"]})
    weak_only = services.policy_create(
        route=route, name="weak", spec={"kind": "rules", "rules": [], "default": models.weak}
    )
    strong_only = services.policy_create(
        route=route, name="strong", spec={"kind": "rules", "rules": [], "default": models.strong}
    )
    experiment = experiments.experiment_create(
        route=route,
        name="weak-or-strong",
        hypothesis="record both models' outcomes",
        variants=[
            {"key": "weak", "policy_version": weak_only, "weight": 0.5},
            {"key": "strong", "policy_version": strong_only, "weight": 0.5},
        ],
    )
    # A fixed hashing seed: which model serves which prompt is then the same in every run, not a fresh draw.
    Experiment.objects.filter(pk=experiment.pk).update(seed="learned-loop")
    experiment.refresh_from_db()
    experiments.experiment_start(experiment=experiment, user=staff_user)
    _, raw = services.api_key_create(name="loop", routes=[route])

    for number, prompt in enumerate(training_prompts):
        response = client.post(
            "/v1/chat/completions",
            {
                "model": "gsm8k",
                "user": f"student-{number}",
                "messages": [{"role": "user", "content": prompt}],
            },
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        assert response.status_code == 200, response.content
    while calls_flush():
        pass
    calls = Call.objects.filter(route=route, status="ok")
    assert calls.count() == len(training_prompts)
    served = dict(calls.values_list("model_key").annotate(n=Count("id")))
    assert 0.4 < served[models.weak] / len(training_prompts) < 0.6  # the experiment split them at random

    deadline = time.monotonic() + 180
    while Score.objects.filter(call__route=route, scorer="recorded_quality").count() < len(training_prompts):
        assert time.monotonic() < deadline, "the worker did not score every call"
        time.sleep(0.5)

    traffic = router_train(
        name="gsm8k-traffic", family="knn", source="route",
        source_args={"route": "gsm8k", "since": started.isoformat()}, heldout_fraction=0.0,
    )  # fmt: skip
    assert traffic.source["counts"] == {
        models.strong: served[models.strong],
        models.weak: served[models.weak],
    }

    versions = [
        services.policy_create(
            route=route,
            name=f"learned-{router.name}",
            spec={
                "kind": "learned",
                "router": router.label,
                "models": [models.weak, models.strong],
                "threshold": 0,
            },
        )
        for router in (full, traffic)
    ]
    evaluation = evaluation_run(
        evaluation_id=evaluation_create(
            dataset=Dataset.objects.get(name=dataset.name),
            policy_versions=versions,
            weak=WEAK,
            strong=STRONG,
            enqueue=False,
        ).id
    )
    assert evaluation.status == "succeeded", evaluation.error
    apgr = {p["label"]: p["apgr"] for p in evaluation.results["policies"]}
    print("held-out APGR:", apgr)
    assert evaluation.results["dataset"]["items"] == len(held_out)
    assert abs(apgr["gsm8k/learned-gsm8k-full@v1"] - apgr["gsm8k/learned-gsm8k-traffic@v1"]) <= 0.05
