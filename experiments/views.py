"""The experiments web UI for staff: list, create with a preview, run, ramp and promote."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from experiments import selectors, services
from experiments.forms import CoverageForm, ExperimentForm, PromoteForm, RollbackForm
from experiments.models import Experiment, Promotion
from experiments.planning import experiment_plan
from routing.models import AuditEntry

ACTIONS = {
    "start": services.experiment_start,
    "pause": services.experiment_pause,
    "resume": services.experiment_resume,
    "stop": services.experiment_stop,
}


def _errors(request, exc: ValidationError) -> None:
    for field, errors in getattr(exc, "message_dict", {"": exc.messages}).items():
        messages.error(
            request, f"{field}: {' '.join(errors)}" if field and field != "__all__" else " ".join(errors)
        )


def _apply_errors(form, exc: ValidationError) -> None:
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errors)


@staff_member_required
def experiment_list(request):
    experiments = selectors.experiment_list().select_related("route")
    return render(request, "experiments/experiment_list.html", {"experiments": experiments})


def _plan(form: ExperimentForm):
    data = form.cleaned_data
    variants = form.variant_specs()
    return experiment_plan(
        route=data["route"],
        weights=[v["weight"] for v in variants],
        keys=[v["key"] for v in variants],
        coverage=data["coverage"],
        metric=data["primary_metric"],
        mde=data["mde"],
        alpha=data["alpha"],
        min_sample=data["min_sample_per_variant"],
        engine=data["engine"],
    )


@staff_member_required
def experiment_create(request):
    prefill = {
        name: request.GET[name] for name in ("route", "control", "treatment", "name") if name in request.GET
    }
    form = ExperimentForm(request.POST or None, initial=prefill)
    plan = None
    if request.method == "POST" and form.is_valid():
        plan = _plan(form)
        if "create" in request.POST:
            try:
                fields = form.service_fields()
                # The plan's sample is the experiment's required sample: the progress bar reads it.
                if plan.sample_per_variant:
                    fields["min_sample_per_variant"] = plan.sample_per_variant
                experiment = services.experiment_create(user=request.user, **fields)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(
                    request, f"Experiment {experiment.name} created as a draft. Start it when ready."
                )
                return redirect("experiments:detail", experiment_id=experiment.id)
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "experiments/experiment_form.html", {"form": form, "plan": plan}, status=status)


@staff_member_required
def experiment_detail(request, experiment_id: int):
    experiment = get_object_or_404(
        selectors.experiment_list().select_related("route__live_policy__policy"), id=experiment_id
    )
    context = {
        "experiment": experiment,
        "variants": experiment.variants.select_related("policy_version__policy").order_by("position"),
        "phases": experiment.phases.order_by("number"),
        "promotions": experiment.promotions.select_related(
            "variant", "previous_policy__policy", "promoted_policy__policy"
        ).order_by("-promoted_at"),
        "exposures": selectors.experiment_exposures(experiment=experiment),
        "audit": AuditEntry.objects.filter(
            target_type="experiments.experiment", target_id=str(experiment.id)
        )[:30],
        "coverage_form": CoverageForm(initial={"coverage": experiment.coverage}),
        "promote_form": PromoteForm(),
        "rollback_form": RollbackForm(),
    }
    return render(request, "experiments/experiment_detail.html", context)


@staff_member_required
def experiment_exposures(request, experiment_id: int):
    experiment = get_object_or_404(Experiment, id=experiment_id)
    return JsonResponse(
        {"status": experiment.status, "exposures": selectors.experiment_exposures(experiment=experiment)}
    )


@staff_member_required
@require_POST
def experiment_action(request, experiment_id: int, action: str):
    experiment = get_object_or_404(Experiment, id=experiment_id)
    if action not in ACTIONS:
        messages.error(request, f"Unknown action {action}.")
        return redirect("experiments:detail", experiment_id=experiment.id)
    try:
        ACTIONS[action](experiment=experiment, user=request.user)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, f"Experiment {experiment.name}: {action} done.")
    return redirect("experiments:detail", experiment_id=experiment.id)


@staff_member_required
@require_POST
def experiment_ramp(request, experiment_id: int):
    experiment = get_object_or_404(Experiment, id=experiment_id)
    form = CoverageForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Coverage must be a number between 0 and 1.")
    else:
        try:
            services.experiment_ramp(
                experiment=experiment, coverage=form.cleaned_data["coverage"], user=request.user
            )
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"Coverage is now {form.cleaned_data['coverage']:.0%}.")
    return redirect("experiments:detail", experiment_id=experiment.id)


@staff_member_required
@require_POST
def experiment_promote(request, experiment_id: int):
    experiment = get_object_or_404(Experiment, id=experiment_id)
    form = PromoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a variant and give a reason for promoting it.")
        return redirect("experiments:detail", experiment_id=experiment.id)
    try:
        promotion = services.experiment_promote(
            experiment=experiment,
            variant=form.cleaned_data["variant"],
            reason=form.cleaned_data["reason"],
            override_reason=form.cleaned_data["override_reason"],
            user=request.user,
        )
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(
            request, f"{promotion.promoted_policy.label} is now live on {experiment.route.name}."
        )
    return redirect("experiments:detail", experiment_id=experiment.id)


@staff_member_required
@require_POST
def promotion_rollback(request, promotion_id: int):
    promotion = get_object_or_404(Promotion, id=promotion_id)
    form = RollbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for the rollback.")
    else:
        try:
            services.promotion_rollback(
                promotion=promotion, reason=form.cleaned_data["reason"], user=request.user
            )
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"Rolled back: {promotion.previous_policy.label} is live again.")
    return redirect("experiments:detail", experiment_id=promotion.experiment_id)
