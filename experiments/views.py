"""The experiments web UI for staff: list, create with a preview, run, ramp and promote."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from experiments import selectors, services
from experiments.forms import CoverageForm, ExperimentForm, PromoteForm, RollbackForm, experiment_initial
from experiments.models import Experiment, Promotion
from experiments.planning import experiment_plan
from routing.forms import form_errors_apply
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


PAGE_SIZE = 25
FILTERS = ("q", "route", "status")


@staff_member_required
def experiment_list(request):
    filters = {name: request.GET.get(name, "").strip() for name in FILTERS}
    experiments = selectors.experiment_search(
        query=filters["q"], route_name=filters["route"], status=filters["status"]
    )
    page = Paginator(experiments, PAGE_SIZE).get_page(request.GET.get("page"))
    kept = request.GET.copy()
    kept.pop("page", None)
    context = {
        "page": page,
        "experiments": page.object_list,
        "filters": filters,
        "filter_query": kept.urlencode(),
        "routes": selectors.experiment_route_names(),
        "statuses": Experiment.Status.choices,
    }
    return render(request, "experiments/experiment_list.html", context)


def _plan(form: ExperimentForm):
    """The preview, or None with a form error when the planner cannot size the experiment."""
    try:
        return _plan_compute(form)
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        form.add_error("mde", f"Cannot plan with these settings: {exc}.")
        return None


def _plan_compute(form: ExperimentForm):
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
    return _form_page(request, form, lambda fields: services.experiment_create(user=request.user, **fields))


@staff_member_required
def experiment_edit(request, experiment_id: int):
    experiment = get_object_or_404(Experiment.objects.select_related("route"), id=experiment_id)
    if experiment.status != Experiment.Status.DRAFT:
        messages.error(
            request, f"Experiment {experiment.name} is {experiment.status}: only a draft is edited."
        )
        return redirect("experiments:detail", experiment_id=experiment.id)
    form = ExperimentForm(request.POST or None, initial=experiment_initial(experiment))
    form.fields["route"].disabled = True  # a draft stays on its route: its policy versions belong to it

    def save(fields):
        fields.pop("route")
        return services.experiment_update(experiment=experiment, user=request.user, **fields)

    return _form_page(request, form, save, experiment=experiment)


def _form_page(request, form: ExperimentForm, save, experiment=None):
    """The create or edit page: preview on any valid POST, save on "create" (the plan sets the sample)."""
    plan = None
    if request.method == "POST" and form.is_valid():
        plan = _plan(form)
        if "create" in request.POST and plan is not None:
            fields = form.service_fields()
            # The plan's sample is the experiment's required sample: the progress bar reads it.
            if plan.sample_per_variant:
                fields["min_sample_per_variant"] = plan.sample_per_variant
            try:
                saved = save(fields)
            except ValidationError as exc:
                form_errors_apply(form, exc)
            else:
                verb = "saved" if experiment else "created as a draft"
                messages.success(request, f"Experiment {saved.name} {verb}. Start it when ready.")
                return redirect("experiments:detail", experiment_id=saved.id)
    status = 400 if request.method == "POST" and form.errors else 200
    context = {"form": form, "plan": plan, "experiment": experiment}
    return render(request, "experiments/experiment_form.html", context, status=status)


@staff_member_required
@require_POST
def experiment_discard(request, experiment_id: int):
    experiment = get_object_or_404(Experiment, id=experiment_id)
    try:
        services.experiment_discard(experiment=experiment, user=request.user)
    except ValidationError as exc:
        _errors(request, exc)
        return redirect("experiments:detail", experiment_id=experiment.id)
    messages.success(request, f"Draft {experiment.name} discarded.")
    return redirect("experiments:list")


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
