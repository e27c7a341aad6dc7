"""The routing web UI for staff: routes, their policies and versions, and their API keys."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from routing import selectors, services
from routing.forms import (
    ApiKeyForm,
    KeyLimitsForm,
    LivePolicyForm,
    PolicyForm,
    PublishForm,
    RouteForm,
    RouteLimitsForm,
    form_errors_apply,
)
from routing.models import Route, RoutingPolicy


@staff_member_required
def route_list(request):
    if request.method == "POST" and not request.user.has_perm("routing.add_route"):
        raise PermissionDenied("Creating a route needs the routing.add_route permission.")
    form = RouteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            route = services.route_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Route {route.name} created. Give it a policy next.")
            return redirect("routing:route-detail", route_name=route.name)
    return render(request, "routing/route_list.html", {"routes": selectors.route_overview(), "form": form})


def _route_context(request, route: Route, **forms) -> dict:
    example = json.dumps(
        {"kind": "complexity", "tiers": {"simple": [], "moderate": [], "complex": []}}, indent=2
    )
    return {
        "route": route,
        "policies": selectors.policy_list(route=route),
        "keys": _key_rows(route),
        "models": selectors.model_list(enabled=True),
        "policy_form": forms.get("policy_form") or PolicyForm(initial={"spec": example}),
        "publish_form": forms.get("publish_form") or PublishForm(),
        "live_form": forms.get("live_form") or LivePolicyForm(route=route),
        "key_form": forms.get("key_form") or ApiKeyForm(),
        "limits_form": forms.get("limits_form") or RouteLimitsForm(initial=_route_limits(route)),
        "new_key": request.session.pop(_new_key_session_name(route), None),
        "publish_policy": forms.get("publish_policy"),
    }


@staff_member_required
def route_detail(request, route_name: str):
    route = get_object_or_404(selectors.route_list(), name=route_name)
    return render(request, "routing/route_detail.html", _route_context(request, route))


@staff_member_required
@permission_required("routing.add_routingpolicy", raise_exception=True)
@require_POST
def policy_create(request, route_name: str):
    route = get_object_or_404(Route, name=route_name)
    form = PolicyForm(request.POST)
    if form.is_valid():
        try:
            version = services.policy_create(route=route, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Published {version.label}.")
            return redirect("routing:route-detail", route_name=route.name)
    return render(
        request, "routing/route_detail.html", _route_context(request, route, policy_form=form), status=400
    )


@staff_member_required
@permission_required("routing.add_policyversion", raise_exception=True)
@require_POST
def policy_publish(request, route_name: str, policy_name: str):
    policy = get_object_or_404(RoutingPolicy, route__name=route_name, name=policy_name)
    form = PublishForm(request.POST)
    if form.is_valid():
        try:
            version = services.policy_publish(policy=policy, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Published {version.label}. Make it live below when you are ready.")
            return redirect("routing:route-detail", route_name=route_name)
    context = _route_context(request, policy.route, publish_form=form, publish_policy=policy)
    return render(request, "routing/route_detail.html", context, status=400)


@staff_member_required
@permission_required("routing.change_route", raise_exception=True)
@require_POST
def live_policy_set(request, route_name: str):
    route = get_object_or_404(Route, name=route_name)
    form = LivePolicyForm(request.POST, route=route)
    if form.is_valid():
        services.route_set_live_policy(route=route, version=form.cleaned_data["version"], user=request.user)
        messages.success(request, f"{form.cleaned_data['version'].label} is now live on {route.name}.")
        return redirect("routing:route-detail", route_name=route.name)
    return render(
        request, "routing/route_detail.html", _route_context(request, route, live_form=form), status=400
    )


@staff_member_required
@permission_required("routing.add_apikey", raise_exception=True)
@require_POST
def api_key_create(request, route_name: str):
    route = get_object_or_404(Route, name=route_name)
    form = ApiKeyForm(request.POST)
    if form.is_valid():
        limits = {name: form.cleaned_data[name] for name in services.KEY_LIMIT_FIELDS}
        try:
            api_key, raw = services.api_key_create(
                name=form.cleaned_data["name"], routes=[route], user=request.user, **limits
            )
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            # Post-redirect-get: the route page pops the raw key, so a reload neither shows it nor makes
            # another.
            request.session[_new_key_session_name(route)] = raw
            messages.success(request, f"Key {api_key} created.")
            return redirect("routing:route-detail", route_name=route.name)
    return render(
        request, "routing/route_detail.html", _route_context(request, route, key_form=form), status=400
    )


@staff_member_required
@permission_required("routing.change_apikey", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def api_key_revoke(request, route_name: str, key_id: int):
    route = get_object_or_404(Route, name=route_name)
    api_key = get_object_or_404(route.api_keys, id=key_id)
    if request.method != "POST":
        return render(request, "routing/key_revoke_confirm.html", {"route": route, "api_key": api_key})
    was_active = api_key.is_active
    services.api_key_revoke(api_key=api_key, user=request.user)
    messages.success(request, f"Key {api_key} {'revoked' if was_active else 'was already revoked'}.")
    return redirect("routing:route-detail", route_name=route.name)


def _route_limits(route: Route) -> dict:
    return {name: getattr(route, name) for name in RouteLimitsForm.base_fields}


@staff_member_required
@permission_required("routing.change_route", raise_exception=True)
@require_POST
def route_limits(request, route_name: str):
    route = get_object_or_404(Route, name=route_name)
    form = RouteLimitsForm(request.POST)
    if form.is_valid():
        try:
            services.route_update(route=route, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Limits of {route.name} saved.")
            return redirect("routing:route-detail", route_name=route.name)
    route.refresh_from_db()
    return render(
        request, "routing/route_detail.html", _route_context(request, route, limits_form=form), status=400
    )


@staff_member_required
@permission_required("routing.change_apikey", raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def api_key_limits(request, route_name: str, key_id: int):
    route = get_object_or_404(Route, name=route_name)
    api_key = get_object_or_404(route.api_keys, id=key_id)
    initial = {name: getattr(api_key, name) for name in services.KEY_LIMIT_FIELDS}
    form = KeyLimitsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.api_key_update(api_key=api_key, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_apply(form, exc)
        else:
            messages.success(request, f"Limits of key {api_key} saved.")
            return redirect("routing:route-detail", route_name=route.name)
    status = 400 if request.method == "POST" else 200
    context = {"route": route, "api_key": api_key, "form": form}
    return render(request, "routing/key_limits.html", context, status=status)


def _new_key_session_name(route: Route) -> str:
    return f"routing.new_api_key.{route.id}"


def _key_rows(route: Route) -> list[dict]:
    """The route's keys, revoked ones included, newest first, each with its usage."""
    keys = list(route.api_keys.order_by("-created_at"))
    usage = selectors.api_key_usage(keys=keys)
    return [{"key": key, "usage": usage[key.id]} for key in keys]
