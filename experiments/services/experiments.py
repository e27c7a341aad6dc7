"""Experiments' lifecycle: create, start, pause, resume, stop, ramp coverage and change weights.

Every service runs in one transaction, writes an audit entry and, on commit, tells the routing snapshot
(which holds the running experiments) to rebuild. Services that change an experiment lock the route's
row, then the experiment's, always in that order, so concurrent writers on one route queue up instead of
deadlocking, and each re-checks the status under the lock.

Phases: starting opens phase 1. Changing coverage opens a new phase with the same seed: raising it keeps
every assigned user in their variant, lowering it drops users out (they get the route's live policy).
Changing weights opens a new phase with a new seed, since new weights under the same seed would move
users between variants.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.utils import timezone

from experiments.models import Correction, Engine, Experiment, ExperimentPhase, Metric, Variant, new_seed
from routing.audit import audit_record
from routing.gateway.snapshot import routing_changed
from routing.models import PolicyVersion, Route

Status = Experiment.Status
WEIGHT_TOLERANCE = 1e-6
SLOT_HOLDERS = (Status.RUNNING, Status.PAUSED)
NAME_MAX_LENGTH = Experiment._meta.get_field("name").max_length
NAMESPACE_MAX_LENGTH = Experiment._meta.get_field("namespace").max_length
KEY_MAX_LENGTH = Variant._meta.get_field("key").max_length


class ExperimentConflict(ValidationError):
    """The experiment's (or promotion's) current state forbids the change: the API answers 409."""


# -- shared by the experiment and promotion services ---------------------------------------------------------


def routing_invalidate_on_commit() -> None:
    routing_changed()


def actor_or_none(user):
    return user if getattr(user, "is_authenticated", False) else None


def experiment_lock(experiment: Experiment) -> Experiment:
    """Lock the route's row, then the experiment's, and return the experiment as it is now."""
    Route.objects.select_for_update().get(pk=experiment.route_id)
    return Experiment.objects.select_for_update(of=("self",)).select_related("route").get(pk=experiment.pk)


def status_require(experiment: Experiment, action: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if experiment.status not in allowed:
        raise ExperimentConflict(
            {
                "status": f"Cannot {action} experiment {experiment.name!r}: it is {experiment.status}; "
                f"only a {' or '.join(allowed)} experiment allows it."
            }
        )


def in_unit_interval(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


# -- create --------------------------------------------------------------------------------------------------


@transaction.atomic
def experiment_create(
    *,
    route: Route,
    name: str,
    hypothesis: str,
    variants: Sequence[dict[str, Any]],
    coverage: float = 1.0,
    namespace: str = "",
    namespace_range: Sequence[float] = (0.0, 1.0),
    targeting: dict[str, list] | None = None,
    primary_metric: str = Metric.QUALITY,
    guardrail_metrics: Iterable[str] = (),
    alpha: float = 0.05,
    min_sample_per_variant: int = 1000,
    guardrail_margins: dict[str, float] | None = None,
    engine: str = "",
    correction: str = "",
    capping_percentile: float | None = None,
    cuped: bool = True,
    user=None,
) -> Experiment:
    """A draft experiment with its variants (the first is the control); errors name the field.

    Each variant is `{"key", "policy_version", "weight"}`, the policy version given as a row or an id
    (`"policy_version_id"` works too); the weights sum to 1.
    """
    Route.objects.select_for_update().get(pk=route.pk)
    experiment = Experiment(route=route, created_by=actor_or_none(user))
    _fields_apply(
        experiment,
        name=name,
        hypothesis=hypothesis,
        coverage=coverage,
        namespace=namespace,
        namespace_range=namespace_range,
        targeting=targeting,
        primary_metric=primary_metric,
        guardrail_metrics=guardrail_metrics,
        guardrail_margins=guardrail_margins,
        engine=engine,
        correction=correction,
        capping_percentile=capping_percentile,
        cuped=cuped,
        alpha=alpha,
        min_sample_per_variant=min_sample_per_variant,
    )
    rows = _experiment_validate(experiment, variants)
    return _experiment_save(experiment, rows, user)


# Each editable field with how a given value is stored (None keeps the "unset" default of create).
_FIELD_CONVERTERS = {
    "name": lambda value: value,
    "hypothesis": lambda value: value or "",
    "coverage": lambda value: value,
    "namespace": lambda value: value or "",
    "targeting": lambda value: {} if value is None else value,
    "primary_metric": lambda value: value,
    "guardrail_metrics": lambda value: list(value or ()),
    "guardrail_margins": lambda value: {} if value is None else value,
    "engine": lambda value: value or "",
    "correction": lambda value: value or "",
    "capping_percentile": lambda value: value,
    "cuped": bool,
    "alpha": lambda value: value,
    "min_sample_per_variant": lambda value: value,
}
EDITABLE_FIELDS = frozenset({*_FIELD_CONVERTERS, "namespace_range", "variants"})


def _fields_apply(experiment: Experiment, **fields: Any) -> None:
    for name, value in fields.items():
        if name == "namespace_range":
            experiment.namespace_start, experiment.namespace_end = _range_pair(value)
        else:
            setattr(experiment, name, _FIELD_CONVERTERS[name](value))


def _experiment_validate(experiment: Experiment, variants: Sequence[dict[str, Any]]) -> list[Variant]:
    rows, errors = _variants_build(experiment.route, variants)
    errors |= _name_errors(experiment) | _settings_errors(experiment) | _namespace_errors(experiment)
    errors |= _targeting_errors(experiment.targeting)
    # Only a running or paused experiment holds its slot; a draft's overlap is checked when it starts.
    if not errors and (message := _overlap_error(experiment, SLOT_HOLDERS)):
        errors["namespace"] = message
    if errors:
        raise ValidationError(errors)
    return rows


@transaction.atomic
def _experiment_save(experiment: Experiment, rows: list[Variant], user) -> Experiment:
    experiment.save()
    for row in rows:
        row.experiment = experiment
    Variant.objects.bulk_create(rows)
    audit_record(
        actor=user, action="experiment.create", target=experiment, changes=_summary(experiment, rows)
    )
    routing_invalidate_on_commit()
    return experiment


@transaction.atomic
def experiment_update(*, experiment: Experiment, user=None, **fields: Any) -> Experiment:
    """Change a draft's settings and, when `variants` is given, replace its variants; errors name the field.

    The fields are `experiment_create`'s (but the route); only a draft can be edited.
    """
    if unknown := sorted(set(fields) - EDITABLE_FIELDS):
        raise ValidationError({name: "This field cannot be edited." for name in unknown})
    experiment = experiment_lock(experiment)
    status_require(experiment, "edit", (Status.DRAFT,))
    variants = fields.pop("variants", None)
    if variants is None:
        variants = [
            {"key": v.key, "policy_version": v.policy_version, "weight": v.weight}
            for v in experiment.variants.select_related("policy_version").order_by("position")
        ]
    _fields_apply(experiment, **fields)
    rows = _experiment_validate(experiment, variants)
    experiment.save()
    experiment.variants.all().delete()
    for row in rows:
        row.experiment = experiment
    Variant.objects.bulk_create(rows)
    return _changed(experiment, "update", user, _summary(experiment, rows))


@transaction.atomic
def experiment_discard(*, experiment: Experiment, user=None) -> None:
    """Delete a draft (it has no phases, exposures or promotions yet); any other status is refused."""
    experiment = experiment_lock(experiment)
    status_require(experiment, "discard", (Status.DRAFT,))
    audit_record(
        actor=user,
        action="experiment.discard",
        target=experiment,
        changes={"name": experiment.name, "route": experiment.route.name},
    )
    experiment.delete()
    routing_invalidate_on_commit()


def _summary(experiment: Experiment, rows: list[Variant]) -> dict[str, Any]:
    return {
        "variants": [[row.key, row.policy_version.label, row.weight] for row in rows],
        "coverage": experiment.coverage,
        "namespace": list(experiment.namespace_tuple or ()),
        "targeting": experiment.targeting,
        "primary_metric": experiment.primary_metric,
        "guardrail_metrics": experiment.guardrail_metrics,
        "guardrail_margins": experiment.guardrail_margins,
        "engine": experiment.engine,
        "correction": experiment.correction,
        "capping_percentile": experiment.capping_percentile,
        "cuped": experiment.cuped,
    }


def _range_pair(value: Any) -> tuple[Any, Any]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return None, None


# -- validation: errors are collected per field so one answer names every problem ----------------------------


def _variants_build(route: Route, specs: Any) -> tuple[list[Variant], dict[str, str]]:
    if not isinstance(specs, list | tuple) or len(specs) < 2:
        return [], {"variants": "An experiment needs at least two variants; the first is the control."}
    rows, errors = [], {}
    for position, spec in enumerate(specs):
        row, row_errors = _variant_build(route, position, spec)
        rows.append(row)
        errors |= row_errors
    if errors:
        return rows, errors
    keys = [row.key for row in rows]
    if duplicates := sorted({key for key in keys if keys.count(key) > 1}):
        return rows, {"variants": f"Variant keys must be unique; repeated: {', '.join(duplicates)}."}
    return rows, _weights_errors([row.weight for row in rows], field="variants", item="variants.{}.weight")


def _variant_build(route: Route, position: int, spec: Any) -> tuple[Variant | None, dict[str, str]]:
    prefix = f"variants.{position}"
    if not isinstance(spec, dict):
        return None, {prefix: "A variant is an object with a key, a policy_version (or its id) and a weight."}
    errors = {}
    key = spec.get("key")
    if message := _slug_error(key, KEY_MAX_LENGTH):
        errors[f"{prefix}.key"] = message
    field = "policy_version_id" if "policy_version_id" in spec else "policy_version"
    version = _policy_version_resolve(spec.get(field))
    if message := _version_error(route, spec.get(field), version):
        errors[f"{prefix}.{field}"] = message
    variant = Variant(key=key, position=position, policy_version=version, weight=spec.get("weight"))
    return variant, errors


def _policy_version_resolve(value: Any) -> PolicyVersion | None:
    pk = value.pk if isinstance(value, PolicyVersion) else value
    if not isinstance(pk, int) or isinstance(pk, bool):
        return None
    return PolicyVersion.objects.select_related("policy__route").filter(pk=pk).first()


def _version_error(route: Route, given: Any, version: PolicyVersion | None) -> str | None:
    if version is None:
        return f"No policy version {given!r}: give the id of a version of a policy of route {route.name}."
    if version.policy.route_id != route.id:
        return f"{version.label} belongs to route {version.policy.route.name}, not to {route.name}."
    return None


def _weights_errors(weights: list[Any], *, field: str, item: str) -> dict[str, str]:
    """Each weight in [0, 1] (errors name `item` formatted with the index) and their sum 1 (± 1e-6)."""
    bad = {
        item.format(i): f"A weight is between 0 and 1, not {w!r}."
        for i, w in enumerate(weights)
        if not in_unit_interval(w)
    }
    if bad:
        return bad
    total = math.fsum(weights)
    if abs(total - 1) > WEIGHT_TOLERANCE:
        return {field: f"The weights sum to {total:.6g}; they must sum to 1."}
    return {}


def _slug_error(value: Any, max_length: int) -> str | None:
    if not isinstance(value, str) or not value:
        return "Give a slug: letters, digits, hyphens and underscores."
    if len(value) > max_length:
        return f"At most {max_length} characters."
    try:
        validate_slug(value)
    except ValidationError:
        return f"{value!r} is not a slug: use letters, digits, hyphens and underscores."
    return None


def _name_errors(experiment: Experiment) -> dict[str, str]:
    if message := _slug_error(experiment.name, NAME_MAX_LENGTH):
        return {"name": message}
    same_name = Experiment.objects.filter(route=experiment.route, name=experiment.name)
    if same_name.exclude(pk=experiment.pk).exists():
        return {"name": f"Route {experiment.route.name} already has an experiment named {experiment.name!r}."}
    return {}


def _settings_errors(experiment: Experiment) -> dict[str, str]:
    errors = {}
    if not in_unit_interval(experiment.coverage):
        errors["coverage"] = f"Coverage is a share of users between 0 and 1, not {experiment.coverage!r}."
    alpha = experiment.alpha
    if not (isinstance(alpha, int | float) and not isinstance(alpha, bool) and 0 < alpha <= 0.5):
        errors["alpha"] = f"Alpha must be above 0 and at most 0.5, not {alpha!r}."
    sample = experiment.min_sample_per_variant
    if not isinstance(sample, int) or isinstance(sample, bool) or sample < 1:
        errors["min_sample_per_variant"] = (
            f"The minimum sample per variant is a whole number >= 1, not {sample!r}."
        )
    return errors | _metric_errors(experiment)


def _metric_errors(experiment: Experiment) -> dict[str, str]:
    errors, known = {}, ", ".join(Metric.values)
    if experiment.primary_metric not in Metric.values:
        errors["primary_metric"] = f"Unknown metric {experiment.primary_metric!r}; choose one of {known}."
    guardrails = experiment.guardrail_metrics
    if unknown := [metric for metric in guardrails if metric not in Metric.values]:
        errors["guardrail_metrics"] = (
            f"Unknown metric(s) {', '.join(map(repr, unknown))}; choose from {known}."
        )
    elif len(set(guardrails)) != len(guardrails):
        errors["guardrail_metrics"] = "Name each guardrail metric once."
    if message := _margin_error(experiment.guardrail_margins, guardrails):
        errors["guardrail_margins"] = message
    if experiment.engine not in ("", *Engine.values):
        errors["engine"] = f"Unknown engine {experiment.engine!r}; choose one of {', '.join(Engine.values)}."
    capping = experiment.capping_percentile
    if capping is not None and not (
        isinstance(capping, int | float) and not isinstance(capping, bool) and 0.5 <= capping <= 1
    ):
        errors["capping_percentile"] = f"Capping is a percentile from 0.5 to 1 (e.g. 0.99), not {capping!r}."
    if experiment.correction not in ("", *Correction.values):
        errors["correction"] = (
            f"Unknown correction {experiment.correction!r}; choose one of {', '.join(Correction.values)}."
        )
    return errors


MAX_MARGIN = 1.0


def _margin_error(margins: Any, guardrails: list) -> str | None:
    example = 'for example {"latency": 0.05} to allow 5% worse latency'
    if not isinstance(margins, dict):
        return f"Margins map a guardrail metric to a relative margin, {example}."
    for metric, margin in margins.items():
        if metric not in guardrails:
            return f"{metric!r} has a margin but is not a guardrail of this experiment."
        number = isinstance(margin, int | float) and not isinstance(margin, bool)
        if not (number and 0 <= margin <= MAX_MARGIN):
            return f"The margin of {metric} is a fraction from 0 to {MAX_MARGIN}, not {margin!r}."
    return None


def _namespace_errors(experiment: Experiment) -> dict[str, str]:
    namespace, start, end = experiment.namespace, experiment.namespace_start, experiment.namespace_end
    if not isinstance(namespace, str) or len(namespace) > NAMESPACE_MAX_LENGTH:
        return {"namespace": f"A namespace is a name of at most {NAMESPACE_MAX_LENGTH} characters."}
    if not (in_unit_interval(start) and in_unit_interval(end) and start < end):
        return {"namespace_range": "The namespace range is [start, end) with 0 <= start < end <= 1."}
    if not namespace and (start, end) != (0, 1):
        return {"namespace_range": "A range applies within a namespace: name the namespace too."}
    return {}


def _targeting_errors(targeting: Any) -> dict[str, str]:
    example = 'for example {"feature": ["chat"], "user_tier": ["free", "pro"]}'
    if not isinstance(targeting, dict):
        return {"targeting": f"Targeting maps a metadata key to its allowed values, {example}."}
    for key, values in targeting.items():
        if not key or not isinstance(values, list) or not values:
            return {"targeting": f"{key!r} needs a non-empty list of allowed values, {example}."}
        if not all(isinstance(value, str | int | float | bool) for value in values):
            return {"targeting": f"The allowed values of {key!r} are strings, numbers or booleans."}
    return {}


def _overlap_error(experiment: Experiment, statuses: Iterable[str]) -> str | None:
    """Another experiment of the route holding part of this one's namespace slot, as a message, or None.

    Ranges [a, b) and [c, d) overlap when a < d and c < b; experiments without a namespace all hold
    the whole range [0, 1) of the empty namespace, so any two of them overlap.
    """
    other = (
        Experiment.objects.filter(
            route_id=experiment.route_id,
            namespace=experiment.namespace,
            status__in=tuple(statuses),
            namespace_start__lt=experiment.namespace_end,
            namespace_end__gt=experiment.namespace_start,
        )
        .exclude(pk=experiment.pk)
        .order_by("id")
        .first()
    )
    return None if other is None else _overlap_message(experiment, other)


def _overlap_message(experiment: Experiment, other: Experiment) -> str:
    if not experiment.namespace:
        return (
            f"Experiment {other.name!r} ({other.status}) on route {experiment.route.name} has no namespace "
            "either: give both a namespace with disjoint ranges, or stop the other first."
        )
    return (
        f"Namespace {experiment.namespace!r} range [{experiment.namespace_start:g}, "
        f"{experiment.namespace_end:g}) overlaps experiment {other.name!r} ({other.status}) at "
        f"[{other.namespace_start:g}, {other.namespace_end:g}); use a disjoint range."
    )


# -- lifecycle -----------------------------------------------------------------------------------------------


@transaction.atomic
def experiment_start(*, experiment: Experiment, user=None) -> Experiment:
    """Draft to running, opening phase 1; refused when a running or paused experiment holds the slot."""
    experiment = experiment_lock(experiment)
    status_require(experiment, "start", (Status.DRAFT,))
    if message := _overlap_error(experiment, SLOT_HOLDERS):
        raise ValidationError({"namespace": message})
    experiment.started_at = timezone.now()
    _phase_open(experiment, number=1, reason="started", now=experiment.started_at)
    return _status_set(experiment, Status.RUNNING, "start", user, fields=["started_at", "phase"])


@transaction.atomic
def experiment_pause(*, experiment: Experiment, user=None) -> Experiment:
    """Running to paused: its users get the route's live policy until it resumes, in the same phase."""
    experiment = experiment_lock(experiment)
    status_require(experiment, "pause", (Status.RUNNING,))
    return _status_set(experiment, Status.PAUSED, "pause", user)


@transaction.atomic
def experiment_resume(*, experiment: Experiment, user=None) -> Experiment:
    experiment = experiment_lock(experiment)
    status_require(experiment, "resume", (Status.PAUSED,))
    return _status_set(experiment, Status.RUNNING, "resume", user)


@transaction.atomic
def experiment_stop(*, experiment: Experiment, user=None) -> Experiment:
    """Running or paused to stopped, for good: its slot frees up; a variant can still be promoted."""
    experiment = experiment_lock(experiment)
    status_require(experiment, "stop", SLOT_HOLDERS)
    experiment.ended_at = timezone.now()
    phase_close(experiment, now=experiment.ended_at)
    return _status_set(experiment, Status.STOPPED, "stop", user, fields=["ended_at"])


@transaction.atomic
def experiment_ramp(*, experiment: Experiment, coverage: float, user=None) -> Experiment:
    """Change coverage, opening a phase with the same seed.

    Raising coverage keeps every assigned user in their variant and adds new ones; lowering it drops the
    users beyond the new coverage out of the experiment (they get the route's live policy).
    """
    experiment = experiment_lock(experiment)
    status_require(experiment, "change the coverage of", SLOT_HOLDERS)
    if not in_unit_interval(coverage):
        raise ValidationError(
            {"coverage": f"Coverage is a share of users between 0 and 1, not {coverage!r}."}
        )
    if coverage == experiment.coverage:
        raise ValidationError({"coverage": f"The coverage is already {coverage:g}."})
    old_coverage, old_phase = experiment.coverage, experiment.phase
    experiment.coverage = coverage
    _phase_open(experiment, number=old_phase + 1, reason=f"coverage {old_coverage:g} to {coverage:g}")
    experiment.save(update_fields=["coverage", "phase"])
    changes = {"coverage": [old_coverage, coverage], "phase": [old_phase, experiment.phase]}
    return _changed(experiment, "ramp", user, changes)


@transaction.atomic
def experiment_set_weights(*, experiment: Experiment, weights: Sequence[float], user=None) -> Experiment:
    """Change the variants' weights (in position order), opening a phase with a new seed."""
    experiment = experiment_lock(experiment)
    status_require(experiment, "change the weights of", SLOT_HOLDERS)
    variants = list(experiment.variants.order_by("position"))
    _new_weights_validate(weights, variants)
    old_weights, old_seed, old_phase = [v.weight for v in variants], experiment.seed, experiment.phase
    for variant, weight in zip(variants, weights, strict=True):
        variant.weight = weight
    Variant.objects.bulk_update(variants, ["weight"])
    experiment.seed = new_seed()
    _phase_open(experiment, number=old_phase + 1, reason="weights changed, new seed")
    experiment.save(update_fields=["seed", "phase"])
    changes = {"weights": [old_weights, list(weights)], "seed": [old_seed, experiment.seed]}
    return _changed(experiment, "set_weights", user, changes | {"phase": [old_phase, experiment.phase]})


def _new_weights_validate(weights: Any, variants: list[Variant]) -> None:
    keys = ", ".join(variant.key for variant in variants)
    if not isinstance(weights, list | tuple) or len(weights) != len(variants):
        raise ValidationError({"weights": f"Give one weight per variant, in order: {keys}."})
    if errors := _weights_errors(list(weights), field="weights", item="weights.{}"):
        raise ValidationError(errors)
    if list(weights) == [variant.weight for variant in variants]:
        raise ValidationError({"weights": "These are the current weights."})


def _phase_open(experiment: Experiment, *, number: int, reason: str, now=None) -> ExperimentPhase:
    now = now or timezone.now()
    phase_close(experiment, now=now)
    experiment.phase = number
    return ExperimentPhase.objects.create(
        experiment=experiment,
        number=number,
        seed=experiment.seed,
        coverage=experiment.coverage,
        weights=[variant.weight for variant in experiment.variants.order_by("position")],
        started_at=now,
        reason=reason,
    )


def phase_close(experiment: Experiment, *, now) -> None:
    experiment.phases.filter(ended_at__isnull=True).update(ended_at=now)


def _status_set(experiment: Experiment, status: str, action: str, user, fields=()) -> Experiment:
    old = experiment.status
    experiment.status = status
    experiment.save(update_fields=["status", *fields])
    return _changed(experiment, action, user, {"status": [old, status]})


@transaction.atomic
def _changed(experiment: Experiment, action: str, user, changes: dict[str, Any]) -> Experiment:
    audit_record(actor=user, action=f"experiment.{action}", target=experiment, changes=changes)
    routing_invalidate_on_commit()
    return experiment


@transaction.atomic
def experiment_hypothesis_set(*, experiment: Experiment, hypothesis: str, user=None) -> Experiment:
    """An experiment's hypothesis, in any status: it documents the experiment and changes no result."""
    experiment = experiment_lock(experiment)
    changes = {"hypothesis": [experiment.hypothesis, hypothesis]}
    experiment.hypothesis = hypothesis
    experiment.save(update_fields=["hypothesis"])
    audit_record(actor=user, action="experiment.hypothesis", target=experiment, changes=changes)
    return experiment
