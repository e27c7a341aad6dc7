"""The model registry in the web UI: providers and their models, written through the services."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from routing import selectors, services
from routing.forms import form_errors_apply
from routing.models import Model, Provider
from routing.registry_forms import (
    EnabledForm,
    ProviderForm,
    RegisteredModelForm,
    changed_fields,
    initial_of,
)

LIST_TEMPLATE = "routing/registry/provider_list.html"
PROVIDER_TEMPLATE = "routing/registry/provider_form.html"
MODEL_TEMPLATE = "routing/registry/model_form.html"


def _write(perm: str):
    """A write: staff first (anonymous users go to the login page), then the model permission or 403."""

    def decorate(view):
        return staff_member_required(permission_required(perm, raise_exception=True)(view))

    return decorate


def _form_page(request, template: str, form, **context):
    return render(request, template, {"form": form, **context}, status=400 if form.is_bound else 200)


def _list_context() -> dict:
    return {"providers": selectors.provider_list().prefetch_related("models")}


@staff_member_required
def provider_list(request):
    return render(request, LIST_TEMPLATE, _list_context())


@_write("routing.add_provider")
def provider_create(request):
    form = ProviderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            provider = services.provider_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Provider {provider.name} created. Add its models next.")
            return redirect("registry:provider-list")
    return _form_page(request, PROVIDER_TEMPLATE, form)


@_write("routing.change_provider")
def provider_edit(request, provider_id: int):
    provider = get_object_or_404(Provider, id=provider_id)
    form = ProviderForm(request.POST or None, initial=initial_of(provider, ProviderForm))
    if request.method == "POST" and form.is_valid():
        changes = changed_fields(provider, form.cleaned_data)
        try:
            if changes:
                services.provider_update(provider=provider, user=request.user, **changes)
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Provider {provider.name} {'saved' if changes else 'unchanged'}.")
            return redirect("registry:provider-list")
    return _form_page(request, PROVIDER_TEMPLATE, form, provider=provider)


@_write("routing.add_model")
def model_create(request):
    provider = request.GET.get("provider", "")
    form = RegisteredModelForm(
        request.POST or None, initial={"provider": provider} if provider.isdigit() else {}
    )
    if request.method == "POST" and form.is_valid():
        try:
            model = services.model_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Model {model.key} created.")
            return redirect("registry:provider-list")
    return _form_page(request, MODEL_TEMPLATE, form)


@_write("routing.change_model")
def model_edit(request, model_id: int):
    model = get_object_or_404(Model.objects.select_related("provider"), id=model_id)
    form = RegisteredModelForm(request.POST or None, initial=initial_of(model, RegisteredModelForm))
    if request.method == "POST" and form.is_valid():
        changes = changed_fields(model, form.cleaned_data)
        try:
            if changes:
                services.model_update(model=model, user=request.user, **changes)
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Model {model.key} {'saved' if changes else 'unchanged'}.")
            return redirect("registry:provider-list")
    return _form_page(request, MODEL_TEMPLATE, form, model=model)


@_write("routing.change_provider")
@require_POST
def provider_enabled(request, provider_id: int):
    provider = get_object_or_404(Provider, id=provider_id)
    return _enabled_set(
        request,
        provider,
        lambda on: services.provider_update(provider=provider, user=request.user, enabled=on),
    )


@_write("routing.change_model")
@require_POST
def model_enabled(request, model_id: int):
    model = get_object_or_404(Model.objects.select_related("provider"), id=model_id)
    return _enabled_set(
        request, model, lambda on: services.model_update(model=model, user=request.user, enabled=on)
    )


def _enabled_set(request, row, update):
    """Set a provider's or model's enabled flag to the state the button names; a repeat changes nothing."""
    form = EnabledForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose enable or disable.")
        return render(request, LIST_TEMPLATE, _list_context(), status=400)
    enabled = form.cleaned_data["enabled"]
    try:
        if row.enabled != enabled:
            update(enabled)
    except ValidationError as exc:
        messages.error(request, f"{row} was not changed: {'; '.join(exc.messages)}")
        return render(request, LIST_TEMPLATE, _list_context(), status=400)
    messages.success(request, f"{row} {'enabled' if enabled else 'disabled'}.")
    return redirect("registry:provider-list")
