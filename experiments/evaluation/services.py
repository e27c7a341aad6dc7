"""Writes of offline evaluations: create one and enqueue its run, attach a finished one to an experiment."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from experiments import tasks
from experiments.evaluation.common import version_label
from experiments.models import Dataset, Evaluation, EvaluationPoint, Experiment
from routing import services as routing_services
from routing.audit import audit_record
from routing.models import PolicyVersion

MAX_POLICY_VERSIONS = 10


def _check(*, dataset: Dataset, versions: list[PolicyVersion], mode: str) -> None:
    if mode not in Evaluation.Mode.values:
        raise ValidationError({"mode": f"{mode!r} is not a mode; choose recorded or live."})
    if not versions:
        raise ValidationError({"policy_version_ids": "Choose at least one policy version to evaluate."})
    if len(versions) > MAX_POLICY_VERSIONS:
        raise ValidationError(
            {"policy_version_ids": f"Evaluate at most {MAX_POLICY_VERSIONS} policy versions at once."}
        )
    if mode == Evaluation.Mode.RECORDED and len(dataset.model_names) < 2:
        raise ValidationError(
            {
                "dataset": f"{dataset.name} holds the answers of {len(dataset.model_names)} model(s); a "
                "recorded evaluation compares a weak and a strong model, so it needs two."
            }
        )
    if mode == Evaluation.Mode.LIVE and not dataset.items.exclude(reference="").exists():
        raise ValidationError(
            {"dataset": f"{dataset.name} has no reference answers; a live evaluation scores answers by them."}
        )


def _pair_check(dataset: Dataset, weak: str, strong: str, mode: str) -> None:
    """A recorded evaluation's weak and strong model, named by the person: never inferred from the data."""
    if mode != Evaluation.Mode.RECORDED:
        return
    models = ", ".join(dataset.model_names)
    for field, name in (("weak", weak), ("strong", strong)):
        if not name:
            raise ValidationError({field: f"Name the {field} model of the comparison (one of {models})."})
        if name not in dataset.model_names:
            raise ValidationError({field: f"{name!r} is not a model of {dataset.name} ({models})."})
    if weak == strong:
        raise ValidationError({"strong": "The weak and the strong model must differ."})


def evaluation_create(
    *,
    dataset: Dataset,
    policy_versions: Iterable[PolicyVersion],
    mode: str = Evaluation.Mode.RECORDED,
    weak: str = "",
    strong: str = "",
    user=None,
    enqueue: bool = True,
) -> Evaluation:
    """A queued evaluation of the policy versions on the dataset; its run is enqueued once committed.
    A recorded evaluation needs `weak` and `strong`, the two models of its APGR curves."""
    versions = list(dict.fromkeys(policy_versions))
    _check(dataset=dataset, versions=versions, mode=mode)
    _pair_check(dataset, weak or "", strong or "", mode)
    creator = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        evaluation = Evaluation.objects.create(
            dataset=dataset,
            mode=mode,
            weak_model=(weak or "") if mode == Evaluation.Mode.RECORDED else "",
            strong_model=(strong or "") if mode == Evaluation.Mode.RECORDED else "",
            created_by=creator,
        )
        evaluation.policy_versions.set(versions)
        if enqueue:
            transaction.on_commit(lambda: tasks.evaluation_run_task.delay(evaluation.id))
    return evaluation


@transaction.atomic
def evaluation_attach(*, evaluation: Evaluation, experiment: Experiment, user=None) -> Evaluation:
    """Attach a succeeded evaluation to an experiment as evidence, with an entry in its audit log."""
    if evaluation.status != Evaluation.Status.SUCCEEDED:
        raise ValidationError(
            {"experiment": f"Only a succeeded evaluation can be evidence; this one is {evaluation.status}."}
        )
    evaluation.experiment, evaluation.attached_at = experiment, timezone.now()
    evaluation.save(update_fields=["experiment", "attached_at"])
    audit_record(
        actor=user,
        action="experiment.attach_evaluation",
        target=experiment,
        changes={"evaluation": evaluation.id, "dataset": evaluation.dataset.name},
        note=f"offline evaluation #{evaluation.id} attached as evidence",
    )
    return evaluation


SWEPT_KINDS = ("learned", "cascade", "semantic", "complexity")  # kinds a curve's point can be published of


def spec_at(spec: dict, threshold: float, *, weak: str, strong: str) -> dict:
    """The spec that decides as the swept curve did at `threshold`. A learned, cascade or semantic policy
    takes it as its `threshold`; a complexity policy sends the items scoring at least `threshold` to its
    strong tier's models and the rest to its weak tier's (`weak` and `strong` are the registry keys of
    the evaluated pair)."""
    if spec.get("kind") != "complexity":
        return {**spec, "threshold": threshold}
    if threshold > 1:
        why = (
            "No complexity cut sends every item to the weak model (a score is at most 1); publish a rules "
            "policy with the weak model as its default instead."
        )
        raise ValidationError({"threshold": why})
    tiers = spec.get("tiers", {})
    weak_models = next((ms for ms in tiers.values() if ms and ms[0] == weak), [weak])
    strong_models = next((ms for ms in tiers.values() if ms and ms[0] == strong), [strong])
    if threshold <= 0:
        cut = {"tiers": {"simple": strong_models, "moderate": strong_models, "complex": strong_models}}
        return {**spec, **cut}
    moderate = spec.get("thresholds", {}).get("moderate", 0.25)
    thresholds = {"moderate": moderate if moderate < threshold else threshold / 2, "complex": threshold}
    tiers = {"simple": weak_models, "moderate": weak_models, "complex": strong_models}
    return {**spec, "tiers": tiers, "thresholds": thresholds}


@transaction.atomic
def operating_point_publish(*, evaluation: Evaluation, version: PolicyVersion, threshold: float, user=None):
    """Publish the policy's next version at one threshold of its evaluated curve, the point's figures in
    its note; the threshold must be one the evaluation swept for that version."""
    if version.kind not in SWEPT_KINDS:
        raise ValidationError({"threshold": f"A {version.kind} policy has no threshold to set from a curve."})
    if not evaluation.policy_versions.filter(id=version.id).exists():
        raise ValidationError(
            {"version": f"{version_label(version)} is not one of this evaluation's policies."}
        )
    point = EvaluationPoint.objects.filter(
        evaluation=evaluation,
        series=EvaluationPoint.Series.POLICY,
        label=version_label(version),
        threshold=threshold,
    ).first()
    if point is None:
        raise ValidationError(
            {"threshold": f"{threshold} is not a point of {version_label(version)}'s curve."}
        )
    note = (
        f"operating point of evaluation #{evaluation.id}: threshold {threshold:.6g}, strong share "
        f"{point.strong_share:.1%}, quality {point.quality:.4f}, ${point.cost:.6f} per item"
    )
    pair = evaluation.results.get("models", {})
    keys = {role: pair.get(role, {}).get("key", "") for role in ("weak", "strong")}
    spec = spec_at(version.spec, threshold, **keys)
    return routing_services.policy_publish(policy=version.policy, spec=spec, note=note[:300], user=user)
