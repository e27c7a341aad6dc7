"""Offline evaluations in the web UI (staff only): start one, follow its progress, read its curves and
summary, download them as CSV, and attach a finished one to an experiment as evidence."""

from __future__ import annotations

import csv
from functools import cache

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST
from plotly.offline import get_plotlyjs

from experiments.evaluation import charts, display, selectors, services
from experiments.evaluation.common import version_label
from experiments.models import Dataset, Evaluation, EvaluationPoint, Experiment
from routing.forms import form_errors_apply
from routing.models import PolicyVersion

LIST_LIMIT = 100
PUBLISH_PERMISSION = "routing.add_policyversion"
NOTE = (("note", "note"),)


class VersionsField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: PolicyVersion) -> str:
        return f"{obj.policy.route.name}/{obj.label} ({obj.kind})"


class EvaluationForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.order_by("name"), to_field_name="name")
    policy_version_ids = VersionsField(
        queryset=PolicyVersion.objects.select_related("policy__route").order_by(
            "policy__route__name", "policy__name", "-number"
        ),
        label="Policy versions",
        widget=forms.SelectMultiple(attrs={"size": 8}),
    )
    mode = forms.ChoiceField(choices=Evaluation.Mode.choices, initial=Evaluation.Mode.RECORDED)
    weak = forms.CharField(
        max_length=200,
        required=False,
        label="Weak model",
        help_text="Recorded mode: the cheaper model of the comparison, as the dataset names it.",
        widget=forms.TextInput(attrs={"list": "dataset-models"}),
    )
    strong = forms.CharField(
        max_length=200,
        required=False,
        label="Strong model",
        help_text="Recorded mode: the model whose quality the router tries to keep.",
        widget=forms.TextInput(attrs={"list": "dataset-models"}),
    )


class AttachForm(forms.Form):
    experiment = forms.ModelChoiceField(queryset=Experiment.objects.select_related("route"))


def _list_page(request, form: EvaluationForm, status: int = 200):
    evaluations = selectors.evaluation_list()[:LIST_LIMIT]
    names = Dataset.objects.values_list("model_names", flat=True)
    models = sorted({name for dataset_names in names for name in dataset_names})
    context = {"evaluations": evaluations, "form": form, "dataset_models": models}
    return render(request, "experiments/evaluation_list.html", context, status=status)


@staff_member_required
def evaluation_list(request):
    return _list_page(request, EvaluationForm())


@staff_member_required
@require_POST
def evaluation_create(request):
    form = EvaluationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            evaluation = services.evaluation_create(
                dataset=data["dataset"],
                policy_versions=data["policy_version_ids"],
                mode=data["mode"],
                weak=data["weak"],
                strong=data["strong"],
                user=request.user,
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Evaluation #{evaluation.id} is queued; a worker will run it.")
            return redirect("evaluations:detail", evaluation_id=evaluation.id)
    return _list_page(request, form, status=400)


def _figures(evaluation: Evaluation) -> dict | None:
    if evaluation.status != Evaluation.Status.SUCCEEDED or evaluation.mode != Evaluation.Mode.RECORDED:
        return None
    curves = selectors.evaluation_curves(evaluation=evaluation)
    policies = evaluation.results.get("policies", [])
    return {
        "share": charts.curve_figure(curves, policies, x="strong_share"),
        "cost": charts.curve_figure(curves, policies, x="cost"),
    }


def _tables(evaluation: Evaluation) -> dict[str, list[list[str]]]:
    results = evaluation.results
    if evaluation.status != Evaluation.Status.SUCCEEDED:
        return {}
    if results.get("mode") == Evaluation.Mode.LIVE:
        return {"summary": display.table(display.live_rows(results), display.LIVE_COLUMNS + NOTE)}
    return {
        "summary": display.table(display.recorded_rows(results), display.RECORDED_COLUMNS + NOTE),
        "without_excluded": display.table(display.without_excluded_rows(results), display.RECORDED_COLUMNS),
        "many_models": display.table(display.many_model_rows(results), display.MANY_COLUMNS + NOTE),
    }


@staff_member_required
def evaluation_detail(request, evaluation_id: int):
    evaluation = get_object_or_404(selectors.evaluation_list(), id=evaluation_id)
    context = {
        "evaluation": evaluation,
        "results": evaluation.results,
        "tables": _tables(evaluation),
        "figures": _figures(evaluation),
        "attach_form": AttachForm(initial={"experiment": evaluation.experiment_id}),
        "operating_points": _operating_points(evaluation),
        "can_publish": request.user.has_perm(PUBLISH_PERMISSION),
    }
    return render(request, "experiments/evaluation_detail.html", context)


def _operating_points(evaluation: Evaluation) -> list[dict]:
    """Per evaluated policy whose threshold the spec sets, its curve's points to publish one from."""
    if evaluation.status != Evaluation.Status.SUCCEEDED:
        return []
    curves = {
        curve["label"]: curve["points"]
        for curve in selectors.evaluation_curves(evaluation=evaluation)
        if curve["series"] == EvaluationPoint.Series.POLICY
    }
    return [
        {"version": version, "label": version_label(version), "points": curves[version_label(version)]}
        for version in evaluation.policy_versions.all()
        if version.kind in services.SWEPT_KINDS and version_label(version) in curves
    ]


@staff_member_required
@require_POST
def evaluation_operating_point(request, evaluation_id: int):
    """Publish the chosen point as the policy's next version, then open the experiment form against the
    route's live policy with it as the treatment."""
    if not request.user.has_perm(PUBLISH_PERMISSION):
        raise PermissionDenied(f"Publishing a policy version needs the {PUBLISH_PERMISSION} permission.")
    evaluation = get_object_or_404(selectors.evaluation_list(), id=evaluation_id)
    try:
        version = evaluation.policy_versions.select_related("policy__route").get(
            id=int(request.POST["version"])
        )
        threshold = float(request.POST["threshold"])
        published = services.operating_point_publish(
            evaluation=evaluation, version=version, threshold=threshold, user=request.user
        )
    except (KeyError, ValueError, PolicyVersion.DoesNotExist):
        messages.error(request, "Choose a policy and one of its curve's points.")
        return redirect("evaluations:detail", evaluation_id=evaluation.id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("evaluations:detail", evaluation_id=evaluation.id)
    route = version.policy.route
    messages.success(request, f"Published {published.label} on {route.name}: {published.note}")
    query = {
        "route": route.name,
        "treatment": published.id,
        "name": f"{published.policy.name}-v{published.number}",
    }
    if route.live_policy_id:
        query["control"] = route.live_policy_id
    return redirect(f"{reverse('experiments:create')}?{urlencode(query)}")


@staff_member_required
def evaluation_decisions_csv(request, evaluation_id: int):
    get_object_or_404(Evaluation.objects.only("id"), id=evaluation_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="evaluation-{evaluation_id}-decisions.csv"'
    csv.writer(response).writerows(selectors.evaluation_decision_rows(evaluation_id=evaluation_id))
    return response


@staff_member_required
def evaluation_progress(request, evaluation_id: int):
    evaluation = get_object_or_404(Evaluation, id=evaluation_id)
    return JsonResponse(
        {
            "status": evaluation.status,
            "done": evaluation.progress_done,
            "total": evaluation.progress_total,
            "progress": evaluation.progress,
            "error": evaluation.error,
        }
    )


@staff_member_required
def evaluation_results_csv(request, evaluation_id: int):
    evaluation = get_object_or_404(Evaluation, id=evaluation_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="evaluation-{evaluation.id}.csv"'
    csv.writer(response).writerows(selectors.evaluation_csv_rows(evaluation=evaluation))
    return response


@staff_member_required
@require_POST
def evaluation_attach(request, evaluation_id: int):
    evaluation = get_object_or_404(Evaluation.objects.select_related("dataset"), id=evaluation_id)
    form = AttachForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the experiment this evaluation is evidence for.")
        return redirect("evaluations:detail", evaluation_id=evaluation.id)
    experiment = form.cleaned_data["experiment"]
    try:
        services.evaluation_attach(evaluation=evaluation, experiment=experiment, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Evaluation #{evaluation.id} is attached to experiment {experiment}.")
    return redirect("evaluations:detail", evaluation_id=evaluation.id)


@cache
def _plotly_js() -> str:
    return get_plotlyjs()


@staff_member_required
@cache_control(private=True, max_age=86400)
def plotly_js(request):
    """plotly.js from the installed plotly package, so the charts work offline (no CDN)."""
    return HttpResponse(_plotly_js(), content_type="application/javascript; charset=utf-8")
