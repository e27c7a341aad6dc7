"""Learned routers in the web UI (staff; training needs `experiments.add_routertraining`): the trained
versions, a form to train one from a dataset or a route's calls, a run's progress, a version's figures."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from experiments.models import Dataset, RouterTraining
from experiments.router_apis import TRAIN_PERMISSION, training_parameters
from experiments.services.training import router_training_create
from routing.learning.families import FAMILIES, hyperparameters_check
from routing.learning.selectors import trained_router_list
from routing.learning.training import DEFAULT_HELDOUT, DEFAULT_SEED, TrainingError
from routing.models import Route, TrainedRouter

LIST_LIMIT = 100


class TrainingForm(forms.Form):
    name = forms.SlugField(
        max_length=64, help_text="A retraining under the same name saves the next version."
    )
    family = forms.ChoiceField(choices=[(family, family) for family in FAMILIES], initial="knn")
    dataset = forms.ModelChoiceField(
        queryset=Dataset.objects.order_by("name"), to_field_name="name", required=False
    )
    route = forms.ModelChoiceField(
        queryset=Route.objects.order_by("name"), to_field_name="name", required=False
    )
    since = forms.DateTimeField(required=False, help_text="With a route: the calls from this moment on.")
    until = forms.DateTimeField(required=False, help_text="With a route: up to this moment (default now).")
    scorer = forms.CharField(max_length=64, initial="recorded_quality")
    k = forms.IntegerField(min_value=1, max_value=1000, required=False, help_text="knn: neighbours.")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=DEFAULT_SEED)
    heldout_fraction = forms.FloatField(min_value=0.0, max_value=0.9, initial=DEFAULT_HELDOUT)
    weak = forms.CharField(max_length=200, required=False, help_text="For the held-out APGR: the weak model.")
    strong = forms.CharField(max_length=200, required=False, help_text="And the strong model.")

    def clean(self):
        data = super().clean()
        if bool(data.get("dataset")) == bool(data.get("route")):
            self.add_error("dataset", "Choose a dataset or a route, not both or neither.")
        if data.get("route") and not data.get("since"):
            self.add_error("since", "Training on a route's calls needs a start.")
        if data.get("k") is not None and data.get("family") != "knn":
            self.add_error("k", "k is a knn hyperparameter.")
        return data

    def parameters(self) -> dict:
        data = dict(self.cleaned_data)
        data["dataset"] = data["dataset"].name if data.get("dataset") else None
        data["route"] = data["route"].name if data.get("route") else None
        data["hyperparameters"] = {"k": data["k"]} if data.get("k") is not None else {}
        return training_parameters(data)


def _list_page(request, form: TrainingForm, status: int = 200):
    context = {
        "routers": trained_router_list()[:LIST_LIMIT],
        "trainings": RouterTraining.objects.select_related("router")[:20],
        "form": form,
        "can_train": request.user.has_perm(TRAIN_PERMISSION),
    }
    return render(request, "experiments/router_list.html", context, status=status)


@staff_member_required
def router_list(request):
    return _list_page(request, TrainingForm())


@staff_member_required
@require_POST
def training_create(request):
    if not request.user.has_perm(TRAIN_PERMISSION):
        raise PermissionDenied(f"Training a router needs the {TRAIN_PERMISSION} permission.")
    form = TrainingForm(request.POST)
    if form.is_valid():
        try:
            hyperparameters_check(form.cleaned_data["family"], form.parameters()["hyperparameters"])
            run = router_training_create(
                name=form.cleaned_data["name"],
                family=form.cleaned_data["family"],
                source="route" if form.cleaned_data.get("route") else "dataset",
                parameters=form.parameters(),
                user=request.user,
            )
        except (TrainingError, ValueError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Training #{run.id} of {run.name} is queued; a worker will run it.")
            return redirect("routers:training", training_id=run.id)
    return _list_page(request, form, status=400)


@staff_member_required
def training_detail(request, training_id: int):
    run = get_object_or_404(RouterTraining.objects.select_related("router", "created_by"), id=training_id)
    return render(request, "experiments/router_training.html", {"run": run})


@staff_member_required
def training_progress(request, training_id: int):
    run = get_object_or_404(RouterTraining.objects.select_related("router"), id=training_id)
    return JsonResponse(
        {
            "status": run.status,
            "done": run.progress_done,
            "total": run.progress_total,
            "progress": run.progress,
            "router": run.router.label if run.router else None,
            "error": run.error,
        }
    )


@staff_member_required
def router_detail(request, router_id: int):
    router = get_object_or_404(TrainedRouter.objects.defer("state", "heldout_hashes"), id=router_id)
    models = [
        {"name": name, "trained": router.split.get("train_counts", {}).get(name), **figures}
        for name, figures in router.metrics.get("models", {}).items()
    ]
    versions = trained_router_list().filter(name=router.name)
    context = {"router": router, "models": models, "pair": router.metrics.get("pair"), "versions": versions}
    return render(request, "experiments/router_detail.html", context)
