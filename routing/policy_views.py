"""Policies in the web UI: a form per common kind, and the version history with a diff between versions."""

from __future__ import annotations

import difflib
import json

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render

from routing import policy_forms, services
from routing.forms import form_errors_apply
from routing.models import Route, RoutingPolicy


def _spec_lines(version) -> list[str]:
    return json.dumps(version.spec, indent=2, sort_keys=True, ensure_ascii=False).splitlines()


def _diff(old, new) -> list[dict]:
    """The unified diff of two versions' specs, one row per line with its kind (add, remove, hunk, same)."""
    lines = difflib.unified_diff(_spec_lines(old), _spec_lines(new), old.label, new.label, lineterm="")
    kinds = {"+": "add", "-": "remove", "@": "hunk"}
    return [{"kind": kinds.get(line[:1], "same"), "text": line} for line in list(lines)[2:]]


def _chosen(versions: dict, raw: str | None, default):
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) not in versions:
        raise ValueError(f"no version {raw!r}; this policy has versions {', '.join(map(str, versions))}")
    return versions[int(raw)]


@staff_member_required
def policy_history(request, route_name: str, policy_name: str):
    policy = get_object_or_404(
        RoutingPolicy.objects.select_related("route"), route__name=route_name, name=policy_name
    )
    versions = {v.number: v for v in policy.versions.select_related("created_by").order_by("number")}
    ordered = list(versions.values())
    try:
        new = _chosen(versions, request.GET.get("to"), ordered[-1] if ordered else None)
        old = _chosen(versions, request.GET.get("from"), ordered[-2] if len(ordered) > 1 else new)
    except ValueError as exc:
        return HttpResponseBadRequest(f"from/to: {exc}", content_type="text/plain; charset=utf-8")
    context = {
        "policy": policy,
        "route": policy.route,
        "versions": list(reversed(ordered)),
        "old": old,
        "new": new,
        "diff": _diff(old, new) if old and new and old != new else [],
    }
    return render(request, "routing/policy_history.html", context)


def _policy_form(request, kind: str):
    form_class = policy_forms.FORMS[kind]
    return form_class(request.POST if request.method == "POST" else None, prefix=kind)


@staff_member_required
def policy_new(request, route_name: str):
    """A new policy from the form of its kind; the spec it writes is shown as JSON before it is created."""
    route = get_object_or_404(Route, name=route_name)
    kind = request.POST.get("kind") or request.GET.get("kind") or "complexity"
    if kind not in policy_forms.FORMS:
        return HttpResponseBadRequest(
            f"kind: choose one of {', '.join(policy_forms.FORMS)}", content_type="text/plain; charset=utf-8"
        )
    if request.method == "POST" and not request.user.has_perm("routing.add_routingpolicy"):
        raise PermissionDenied("Creating a policy needs the routing.add_routingpolicy permission.")
    form = _policy_form(request, kind)
    spec = None
    if request.method == "POST" and form.is_valid():
        spec = form.spec()
        if "create" in request.POST:
            try:
                version = services.policy_create(
                    route=route, name=form.cleaned_data["name"], spec=spec, user=request.user
                )
            except ValidationError as exc:
                form_errors_apply(form, exc)
            else:
                messages.success(request, f"Published {version.label}.")
                return redirect("routing:route-detail", route_name=route.name)
    context = {
        "route": route,
        "kind": kind,
        "kinds": policy_forms.KINDS,
        "form": form,
        "spec": spec,
    }
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, "routing/policy_new.html", context, status=status)
