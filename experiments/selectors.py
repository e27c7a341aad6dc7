"""Reads of datasets of recorded answers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Avg, Count, Q

from experiments.models import Dataset, RecordedAnswer, prompt_hash


@dataclass(frozen=True)
class RecordedAnswerData:
    answer: str
    quality: float | None
    quality_scale: float
    item_id: int


@dataclass(frozen=True)
class DatasetData:
    id: int
    name: str
    description: str
    source: str
    quality_scale: float
    model_names: tuple[str, ...]
    item_count: int
    excluded_count: int
    created_at: datetime.datetime


def recorded_answer_get(*, dataset_name: str, model_name: str, prompt: str) -> RecordedAnswerData | None:
    """The model's recorded answer to the prompt (compared whitespace-normalised), or None."""
    row = (
        RecordedAnswer.objects.filter(
            item__dataset__name=dataset_name, item__prompt_hash=prompt_hash(prompt), model_name=model_name
        )
        .order_by("item__position")
        .values("answer", "quality", "item_id", "item__dataset__quality_scale")
        .first()
    )
    if row is None:
        return None
    return RecordedAnswerData(
        row["answer"], row["quality"], row["item__dataset__quality_scale"], row["item_id"]
    )


def recorded_answer_lookup(dataset_name: str, model_name: str, prompt: str) -> RecordedAnswerData | None:
    """`recorded_answer_get` with positional arguments: the lookup a ReplayAdapter is constructed with."""
    return recorded_answer_get(dataset_name=dataset_name, model_name=model_name, prompt=prompt)


def dataset_accuracy(*, dataset_name: str, model_name: str, include_excluded: bool = False) -> float:
    """The model's mean quality over the dataset's items that have one (accuracy for True/False labels).

    Raises ValueError when the dataset has no recorded quality for the model.
    """
    answers = RecordedAnswer.objects.filter(
        item__dataset__name=dataset_name, model_name=model_name, quality__isnull=False
    )
    if not include_excluded:
        answers = answers.filter(item__excluded=False)
    mean = answers.aggregate(mean=Avg("quality"))["mean"]
    if mean is None:
        raise ValueError(f"Dataset {dataset_name!r} has no recorded quality for model {model_name!r}.")
    return mean


def dataset_list() -> list[DatasetData]:
    datasets = Dataset.objects.annotate(excluded_count=Count("items", filter=Q(items__excluded=True)))
    return [
        DatasetData(
            id=dataset.id,
            name=dataset.name,
            description=dataset.description,
            source=dataset.source,
            quality_scale=dataset.quality_scale,
            model_names=tuple(dataset.model_names),
            item_count=dataset.item_count,
            excluded_count=dataset.excluded_count,
            created_at=dataset.created_at,
        )
        for dataset in datasets.order_by("name")
    ]
