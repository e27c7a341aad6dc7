"""Promoting an experiment's winning variant to the route's live policy, and rolling a promotion back.

Both run in one transaction that locks the route's row first (as every experiment service does), so two
concurrent promotions of one experiment queue up: the second finds the experiment concluded and fails.
The unique promotion per experiment backs this up in the database.

The promotion gate: the variant's decision at that moment (ship, wait or no-ship, from the significance
report, which analytics registers with `register_verdict_source`) is stored with the promotion. A variant
whose decision is not ship (a failed or undecided guardrail, a sample ratio mismatch, under the required
sample, a primary metric not better) is promoted only with an override reason typed by the person.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from experiments.models import Experiment, Promotion, Variant
from experiments.selectors import experiment_exposures
from experiments.services.experiments import (
    ExperimentConflict,
    actor_or_none,
    experiment_lock,
    phase_close,
    routing_invalidate_on_commit,
    status_require,
)
from routing.audit import audit_record
from routing.models import Route
from routing.services import route_set_live_policy

Status = Experiment.Status
PROMOTABLE = (Status.RUNNING, Status.PAUSED, Status.STOPPED)

# (experiment, variant key) -> ({"state": ..., "reasons": [...]}, the report as JSON)
VerdictSource = Callable[[Experiment, str], tuple[dict, dict]]
_verdict_source: VerdictSource | None = None


def register_verdict_source(source: VerdictSource) -> None:
    global _verdict_source
    _verdict_source = source


def variant_verdict(experiment: Experiment, variant_key: str) -> tuple[dict, dict]:
    """The variant's decision now and the report it comes from; without a report source, undecided."""
    if _verdict_source is None:
        return {"state": "unknown", "reasons": ["no significance report is available"]}, {}
    return _verdict_source(experiment, variant_key)


@transaction.atomic
def experiment_promote(
    *,
    experiment: Experiment,
    variant: Variant | str,
    reason: str,
    user=None,
    report: dict | None = None,
    override_reason: str = "",
) -> Promotion:
    """Make the variant's policy version the route's live policy and conclude the experiment, at once.

    The promotion records who, when, why, the previous live policy, the variant's decision then (see the
    module docstring: not ship needs `override_reason`) and the evidence: the caller's `report`, else
    the significance report, with the exposures per variant and phase at this moment.
    """
    experiment = experiment_lock(experiment)
    status_require(experiment, "promote a variant of", PROMOTABLE)
    winner = _variant_resolve(experiment, variant)
    reason = _reason_require(reason, field="reason")
    verdict, current_report = variant_verdict(experiment, winner.key)
    override = _override_require(verdict, winner.key, override_reason)
    promotion = Promotion.objects.create(
        experiment=experiment,
        variant=winner,
        route=experiment.route,
        previous_policy_id=experiment.route.live_policy_id,
        promoted_policy=winner.policy_version,
        promoted_by=actor_or_none(user),
        promoted_at=timezone.now(),
        reason=reason,
        report=_evidence(experiment, report if report is not None else current_report),
        verdict=verdict,
        override_reason=override,
    )
    _conclude(experiment, winner, now=promotion.promoted_at, user=user, reason=reason, promotion=promotion)
    # Last, so that if the route refuses the policy, the rows written above roll back with it.
    note = f"promotion of {winner.key} in experiment {experiment.name}: {reason}"
    route_set_live_policy(route=experiment.route, version=winner.policy_version, user=user, note=note)
    return promotion


def _variant_resolve(experiment: Experiment, variant: Variant | str) -> Variant:
    key = variant.key if isinstance(variant, Variant) else variant
    variants = list(experiment.variants.select_related("policy_version__policy"))
    for candidate in variants:
        if candidate.key == key and (not isinstance(variant, Variant) or candidate.pk == variant.pk):
            return candidate
    keys = ", ".join(candidate.key for candidate in variants)
    raise ValidationError(
        {"variant": f"Experiment {experiment.name!r} has no variant {key!r}; it has {keys}."}
    )


def _reason_require(reason: Any, *, field: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({field: "Say why: the reason is kept with the audit record."})
    return reason.strip()


def _override_require(verdict: dict, key: str, override_reason: Any) -> str:
    if verdict.get("state") == "ship":
        return override_reason.strip() if isinstance(override_reason, str) else ""
    if isinstance(override_reason, str) and override_reason.strip():
        return override_reason.strip()
    why = "; ".join(verdict.get("reasons") or []) or "no decision"
    raise ValidationError(
        {
            "override_reason": f"The verdict for {key} is {verdict.get('state')!r} ({why}): say why you "
            "promote it anyway."
        }
    )


def _evidence(experiment: Experiment, report: dict | None) -> dict[str, Any]:
    if report is not None and not isinstance(report, dict):
        raise ValidationError({"report": "The report is a JSON object."})
    return {
        **(report or {}),
        "exposures": experiment_exposures(experiment=experiment),
        "phase": experiment.phase,
        "captured_at": timezone.now().isoformat(),
    }


def _conclude(
    experiment: Experiment, winner: Variant, *, now, user, reason: str, promotion: Promotion
) -> None:
    old = experiment.status
    experiment.status, experiment.winner = Status.CONCLUDED, winner
    experiment.ended_at = experiment.ended_at or now
    phase_close(experiment, now=now)
    experiment.save(update_fields=["status", "winner", "ended_at"])
    previous = experiment.route.live_policy.label if experiment.route.live_policy_id else None
    changes = {
        "status": [old, experiment.status],
        "winner": winner.key,
        "live_policy": [previous, winner.policy_version.label],
        "verdict": promotion.verdict,
    }
    note = f"{reason} (verdict: {promotion.verdict.get('state')}"
    if promotion.verdict.get("reasons"):
        note += f": {'; '.join(promotion.verdict['reasons'])}"
    note += ")"
    if promotion.override_reason:
        changes["override_reason"] = promotion.override_reason
        note += f"; override: {promotion.override_reason}"
    audit_record(actor=user, action="experiment.promote", target=experiment, changes=changes, note=note)
    routing_invalidate_on_commit()


@transaction.atomic
def promotion_rollback(*, promotion: Promotion, reason: str, user=None) -> Promotion:
    """Restore the policy that was live before the promotion, if the promoted one is still live."""
    route = (
        Route.objects.select_for_update(of=("self",))
        .select_related("live_policy__policy")
        .get(pk=promotion.route_id)
    )
    promotion = Promotion.objects.select_for_update().get(pk=promotion.pk)
    reason = _reason_require(reason, field="reason")
    _rollback_check(promotion, route)
    note = f"rollback of promotion {promotion.pk} ({promotion.experiment.name}): {reason}"
    route_set_live_policy(route=route, version=promotion.previous_policy, user=user, note=note)
    promotion.rolled_back_at, promotion.rolled_back_by = timezone.now(), actor_or_none(user)
    promotion.rollback_reason = reason
    promotion.save(update_fields=["rolled_back_at", "rolled_back_by", "rollback_reason"])
    changes = {"live_policy": [promotion.promoted_policy.label, promotion.previous_policy.label]}
    audit_record(actor=user, action="promotion.rollback", target=promotion, changes=changes, note=reason)
    routing_invalidate_on_commit()
    return promotion


def _rollback_check(promotion: Promotion, route: Route) -> None:
    if promotion.rolled_back_at is not None:
        when = promotion.rolled_back_at.isoformat(timespec="seconds")
        raise ExperimentConflict({"promotion": f"This promotion was already rolled back at {when}."})
    if promotion.previous_policy_id is None:
        raise ExperimentConflict({"previous_policy": "The route had no live policy before this promotion."})
    if route.live_policy_id != promotion.promoted_policy_id:
        current = route.live_policy.label if route.live_policy_id else "none"
        raise ExperimentConflict(
            {
                "live_policy": f"Route {route.name}'s live policy is now {current}, not the promoted "
                f"{promotion.promoted_policy.label}: it changed since, and a rollback would undo that later "
                "change. Set the live policy directly instead."
            }
        )
