"""Train a router: load its data (a dataset, or a route's calls), split it by prompt, embed each prompt
once (the store keeps it), fit the family, measure it on the held-out prompts, save the next version.

The held-out figures are per model the count and the error of the predicted quality and, when the person
names a weak and a strong model, the router's APGR between them with its 95% bootstrap interval (the
contaminated prompts left out, as RouteLLM does) and CPT(50%) and CPT(80%). Nothing is saved until every
step has succeeded.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from experiments import tasks
from experiments.evaluation import metrics
from experiments.evaluation.replay import later_turn
from experiments.models import Dataset, RecordedAnswer, RouterTraining, prompt_hash
from experiments.training_sources import register_source, training_source
from routing.learning import services as router_services
from routing.learning.embedding_store import embeddings_get
from routing.learning.families import PredictorError, hyperparameters_check, predictor_fit
from routing.learning.training import (
    DEFAULT_HELDOUT,
    DEFAULT_SEED,
    TrainingError,
    TrainingSet,
    prediction_errors,
    split_by_prompt,
    training_set_check,
)
from routing.models import TrainedRouter

Progress = Callable[[int, int], None]
logger = logging.getLogger(__name__)


def training_set_from_dataset(*, dataset: str) -> TrainingSet:
    """Each distinct prompt of the dataset and each model's quality on it, divided by the quality scale.

    Items of a later turn (`metadata.turn` > 1, MT-Bench's second turns) are left out: a router decides on
    a conversation's first prompt, as RouteLLM routes MT-Bench. A prompt recorded twice takes the mean.
    """
    try:
        row = Dataset.objects.get(name=dataset)
    except Dataset.DoesNotExist:
        raise TrainingError(f"no dataset named {dataset!r}; import one with import_dataset") from None
    answers = (
        RecordedAnswer.objects.filter(item__dataset=row, quality__isnull=False)
        .order_by("item__position", "model_name")
        .values_list("item__prompt", "item__excluded", "item__metadata", "model_name", "quality")
    )
    prompts: dict[str, dict[str, list[float]]] = {}
    excluded: dict[str, bool] = {}
    for prompt, is_excluded, metadata, model, quality in answers.iterator(chunk_size=5000):
        if later_turn(metadata):
            continue
        prompts.setdefault(prompt, {}).setdefault(model, []).append(quality / row.quality_scale)
        excluded[prompt] = excluded.get(prompt, False) or is_excluded
    seen = {model for qualities in prompts.values() for model in qualities}
    models = [model for model in dict.fromkeys([*row.model_names, *sorted(seen)]) if model in seen]
    source = {"kind": "dataset", "dataset": row.name, "quality_scale": row.quality_scale}
    return TrainingSet.of_observations(prompts, models, source, [excluded[p] for p in prompts])


register_source("dataset", training_set_from_dataset)


def _name_check(name: str) -> None:
    try:
        validate_slug(name)
    except ValidationError:
        raise TrainingError(f"{name!r} is not a router name (letters, digits, - and _)") from None
    if len(name) > TrainedRouter._meta.get_field("name").max_length:
        raise TrainingError("a router name has at most 64 characters")


def _pair_check(data: TrainingSet, weak: str | None, strong: str | None) -> None:
    if (weak is None) != (strong is None):
        raise TrainingError("name both the weak and the strong model, or neither")
    for role, model in (("weak", weak), ("strong", strong)):
        if model is not None and model not in data.models:
            raise TrainingError(f"the {role} model {model!r} is not in the data ({', '.join(data.models)})")
    if weak is not None and weak == strong:
        raise TrainingError("the weak and the strong model must differ")


def router_train(
    *,
    name: str,
    family: str,
    source: str,
    source_args: dict,
    hyperparameters: dict | None = None,
    seed: int = DEFAULT_SEED,
    heldout_fraction: float = DEFAULT_HELDOUT,
    weak: str | None = None,
    strong: str | None = None,
    on_progress: Progress | None = None,
    user=None,
) -> TrainedRouter:
    """Train and save the next version of router `name`; TrainingError says why when it cannot."""
    _name_check(name)
    try:
        values = hyperparameters_check(family, hyperparameters)
    except PredictorError as exc:
        raise TrainingError(str(exc)) from None
    data = training_source(source)(**source_args)
    training_set_check(data)
    _pair_check(data, weak, strong)
    split = split_by_prompt(data, seed=seed, heldout_fraction=heldout_fraction)
    embeddings = embeddings_get(data.prompts, on_progress=on_progress)
    train, heldout = list(split.train), list(split.heldout)
    try:
        predictor = predictor_fit(family, embeddings[train], data.qualities[train], data.models, values)
    except PredictorError as exc:
        raise TrainingError(str(exc)) from None
    figures = (
        heldout_figures(predictor.predict(embeddings[heldout]), data, heldout, weak, strong)
        if heldout
        else {}
    )
    return router_services.trained_router_save(
        name=name,
        predictor=predictor,
        source={**data.source, "counts": data.counts()},
        split=split.describe(data),
        metrics=figures,
        heldout_hashes=[prompt_hash(data.prompts[row]) for row in heldout],
        user=user,
    )


def heldout_figures(
    predicted: np.ndarray, data: TrainingSet, rows: list[int], weak: str | None, strong: str | None
) -> dict:
    figures: dict = {"models": prediction_errors(predicted, data.qualities[rows], data.models)}
    if weak is None:
        return figures
    figures["pair"] = pair_figures(predicted, data, rows, data.models.index(weak), data.models.index(strong))
    figures["pair"].update({"weak": weak, "strong": strong})
    return figures


def pair_figures(predicted: np.ndarray, data: TrainingSet, rows: list[int], weak: int, strong: int) -> dict:
    """APGR with its interval and CPTs of the predicted gain swept, over the held-out rows that hold both
    models' qualities and are not excluded."""
    actual = data.qualities[rows]
    keep = [
        at
        for at, row in enumerate(rows)
        if not math.isnan(actual[at, weak])
        and not math.isnan(actual[at, strong])
        and not (data.excluded and data.excluded[row])
    ]
    if not keep:
        return {"items": 0, "apgr": None, "apgr_low": None, "apgr_high": None, "cpt50": None, "cpt80": None}
    gain = list(predicted[keep, strong] - predicted[keep, weak])
    weak_q, strong_q = list(actual[keep, weak]), list(actual[keep, strong])
    figures = {
        "items": len(keep),
        "weak_quality": float(np.mean(weak_q)),
        "strong_quality": float(np.mean(strong_q)),
    }
    for name, (point, low, high) in metrics.curve_intervals(gain, weak_q, strong_q).items():
        figures.update({name: point, f"{name}_low": low, f"{name}_high": high})
    return figures


# -- training runs: queued for a worker, or run here, with their progress ----------------------------------


def router_training_create(
    *, name: str, family: str, source: str, parameters: dict, user=None, enqueue: bool = True
) -> RouterTraining:
    """A queued training run, checked first (name, family, hyperparameters, source) so a bad request is
    refused now, not failed later; enqueued once committed."""
    _name_check(name)
    if source not in RouterTraining.Source.values:
        raise TrainingError(f"{source!r} is not a source; train from a dataset or a route")
    try:
        hyperparameters_check(family, parameters.get("hyperparameters"))
    except PredictorError as exc:
        raise TrainingError(str(exc)) from None
    creator = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        run = RouterTraining.objects.create(
            name=name, family=family, source=source, parameters=parameters, created_by=creator
        )
        if enqueue:
            transaction.on_commit(lambda: tasks.router_training_task.delay(run.id))
    return run


def _progress_store(run_id: int, on_progress: Progress | None) -> Progress:
    def store(done: int, total: int) -> None:
        RouterTraining.objects.filter(id=run_id).update(progress_done=done, progress_total=total)
        if on_progress is not None:
            on_progress(done, total)

    return store


def router_training_run(*, run_id: int, on_progress: Progress | None = None) -> RouterTraining | None:
    """Claim a queued run (queued -> running), train, store its router or its error; None if not queued."""
    claimed = RouterTraining.objects.filter(id=run_id, status=RouterTraining.Status.QUEUED).update(
        status=RouterTraining.Status.RUNNING
    )
    if not claimed:
        return None
    run = RouterTraining.objects.select_related("created_by").get(id=run_id)
    options = dict(run.parameters)
    outcome: dict = {"finished_at": timezone.now()}
    try:
        router = router_train(
            name=run.name,
            family=run.family,
            source=run.source,
            source_args=options.pop("source_args", {}),
            on_progress=_progress_store(run.id, on_progress),
            user=run.created_by,
            **{key: options[key] for key in TRAIN_OPTIONS if key in options},
        )
        outcome.update(status=RouterTraining.Status.SUCCEEDED, router=router)
    except (TrainingError, ValidationError) as exc:
        outcome.update(
            status=RouterTraining.Status.FAILED, error=" ".join(getattr(exc, "messages", [str(exc)]))
        )
    except Exception as exc:  # any failure must end the run visibly failed, never stuck running
        logger.exception("router training %s failed", run_id)
        outcome.update(status=RouterTraining.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    RouterTraining.objects.filter(id=run_id).update(**outcome)
    return RouterTraining.objects.get(id=run_id)


TRAIN_OPTIONS = ("hyperparameters", "seed", "heldout_fraction", "weak", "strong")
