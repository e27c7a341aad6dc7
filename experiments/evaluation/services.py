"""Writes of offline evaluations: create one and enqueue its run, attach a finished one to an experiment."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from experiments.models import Dataset, Evaluation, Experiment
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


def _pair_check(dataset: Dataset, weak: str, strong: str) -> None:
    if bool(weak) != bool(strong):
        raise ValidationError({"weak": "Name both the weak and the strong model, or neither."})
    for field, name in (("weak", weak), ("strong", strong)):
        if name and name not in dataset.model_names:
            raise ValidationError(
                {field: f"{name!r} is not a model of {dataset.name} ({', '.join(dataset.model_names)})."}
            )
    if weak and weak == strong:
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
    `weak` and `strong` name the two models of the APGR curves (both or neither)."""
    versions = list(dict.fromkeys(policy_versions))
    _check(dataset=dataset, versions=versions, mode=mode)
    _pair_check(dataset, weak or "", strong or "")
    creator = user if getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        evaluation = Evaluation.objects.create(
            dataset=dataset, mode=mode, weak_model=weak or "", strong_model=strong or "", created_by=creator
        )
        evaluation.policy_versions.set(versions)
        if enqueue:
            from experiments.tasks import evaluation_run_task

            transaction.on_commit(lambda: evaluation_run_task.delay(evaluation.id))
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


THRESHOLD_KINDS = ("learned", "cascade")  # kinds whose swept threshold is the spec's `threshold`


@transaction.atomic
def operating_point_publish(*, evaluation: Evaluation, version: PolicyVersion, threshold: float, user=None):
    """Publish the policy's next version at one threshold of its evaluated curve, the point's figures in
    its note; the threshold must be one the evaluation swept for that version."""
    from experiments.evaluation.common import version_label
    from experiments.models import EvaluationPoint
    from routing import services as routing_services

    if version.kind not in THRESHOLD_KINDS:
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
    spec = {**version.spec, "threshold": threshold}
    return routing_services.policy_publish(policy=version.policy, spec=spec, note=note[:300], user=user)
