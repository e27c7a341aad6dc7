"""Reads of experiments (with the frozen snapshot the routing hot path holds) and of datasets."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import Avg, Count, Prefetch, Q, QuerySet
from django.utils import timezone

from experiments.assignment import assign, targeting_matches
from experiments.models import Dataset, Experiment, RecordedAnswer, Variant, prompt_hash
from routing.models import Call, Route


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


# -- experiments ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantSnapshot:
    key: str
    policy_version_id: int
    weight: float


@dataclass(frozen=True)
class ExperimentSnapshot:
    """What the hot path needs to assign a user of a running experiment, without a database query."""

    id: int
    name: str
    route_id: int
    seed: str
    hash_version: int
    coverage: float
    phase: int
    namespace: tuple[str, float, float] | None
    targeting: dict = field(hash=False, compare=False)
    variants: tuple[VariantSnapshot, ...] = ()

    @property
    def weights(self) -> list[float]:
        return [variant.weight for variant in self.variants]

    def variant_for(self, user_id: str, metadata: Mapping[str, str]) -> VariantSnapshot | None:
        """The user's variant by GrowthBook's hashing, or None when targeting or coverage leaves them out
        (routing.hooks.LiveExperiment: what the gateway assigns with)."""
        if not targeting_matches(self.targeting, metadata):
            return None
        assignment = assign(
            seed=self.seed,
            user_id=user_id,
            weights=self.weights,
            coverage=self.coverage,
            namespace=self.namespace,
            hash_version=self.hash_version,
        )
        return self.variants[assignment.variation] if assignment.in_experiment else None


def experiment_list(*, route: Route | None = None, status: str | None = None) -> QuerySet[Experiment]:
    experiments = Experiment.objects.select_related("route", "created_by", "winner").prefetch_related(
        Prefetch("variants", Variant.objects.select_related("policy_version__policy")),
        "phases",
        "promotions__variant",
        "promotions__previous_policy__policy",
        "promotions__promoted_policy__policy",
    )
    if route is not None:
        experiments = experiments.filter(route=route)
    if status is not None:
        experiments = experiments.filter(status=status)
    return experiments


def running_experiments_snapshot() -> list[ExperimentSnapshot]:
    """Every running experiment, oldest first, as frozen values the routing snapshot can hold."""
    running = (
        Experiment.objects.filter(status=Experiment.Status.RUNNING)
        .prefetch_related(Prefetch("variants", Variant.objects.order_by("position")))
        .order_by("started_at", "id")
    )
    return [_experiment_snapshot(experiment) for experiment in running]


def _experiment_snapshot(experiment: Experiment) -> ExperimentSnapshot:
    return ExperimentSnapshot(
        id=experiment.id,
        name=experiment.name,
        route_id=experiment.route_id,
        seed=experiment.seed,
        hash_version=experiment.hash_version,
        coverage=experiment.coverage,
        phase=experiment.phase,
        namespace=experiment.namespace_tuple,
        targeting={key: list(values) for key, values in (experiment.targeting or {}).items()},
        variants=tuple(
            VariantSnapshot(v.key, v.policy_version_id, v.weight) for v in experiment.variants.all()
        ),
    )


def experiment_exposures(*, experiment: Experiment) -> list[dict]:
    """Calls and distinct users per variant and phase; variants not yet seen in the current phase show 0."""
    rows = list(
        Call.objects.filter(experiment_id=experiment.id)
        .values("variant", "phase")
        .annotate(calls=Count("id"), users=Count("user_hash", distinct=True, filter=~Q(user_hash="")))
        .order_by("phase", "variant")
    )
    if experiment.status != Experiment.Status.DRAFT:
        seen = {row["variant"] for row in rows if row["phase"] == experiment.phase}
        rows += [
            {"variant": variant.key, "phase": experiment.phase, "calls": 0, "users": 0}
            for variant in experiment.variants.all()
            if variant.key not in seen
        ]
    positions = {variant.key: variant.position for variant in experiment.variants.all()}
    return sorted(rows, key=lambda row: (row["phase"] or 0, positions.get(row["variant"], len(positions))))


def recent_route_traffic(*, route: Route, days: int = 7) -> float:
    """The route's mean calls per day over the last `days` days (the planning input for runtime estimates)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    since = timezone.now() - datetime.timedelta(days=days)
    return Call.objects.filter(route=route, started_at__gte=since).count() / days


def experiment_search(*, query: str = "", route_name: str = "", status: str = "") -> QuerySet[Experiment]:
    """Experiments whose name or hypothesis contains `query`, on the named route, in `status`; newest first.

    Blank arguments do not filter; an unknown route or status matches nothing.
    """
    experiments = Experiment.objects.select_related("route")
    if query:
        experiments = experiments.filter(Q(name__icontains=query) | Q(hypothesis__icontains=query))
    if route_name:
        experiments = experiments.filter(route__name=route_name)
    if status:
        experiments = experiments.filter(status=status)
    return experiments.order_by("-created_at", "-id")


def experiment_route_names() -> list[str]:
    """The names of the routes that have experiments, for the list's route filter."""
    return list(
        Route.objects.filter(experiments__isnull=False)
        .distinct()
        .order_by("name")
        .values_list("name", flat=True)
    )
