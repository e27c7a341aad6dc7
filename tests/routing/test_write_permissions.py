"""Registry and routing writes need the Django model permission for what they change, in the API and the
web UI alike; staff status alone only reads."""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from routing import services
from routing.models import AuditEntry
from tests.conftest import COMPLEXITY_SPEC

pytestmark = pytest.mark.django_db

RULES = {"kind": "rules", "rules": [], "default": "simulator/gpt-4o"}
MODEL = {
    "model_id": "acme-small",
    "tier": "cheap",
    "input_price_per_mtok": "0.1",
    "output_price_per_mtok": "0.4",
    "context_window": 8000,
    "max_output_tokens": 2000,
}


@pytest.fixture
def world(live_route):
    """The live route, plus a provider and a model no call uses, so that both can be deleted."""
    spare = services.provider_create(name="spare", kind="openai", base_url="https://llm.example.com/v1")
    spare_model = services.model_create(
        provider=live_route.models[0].provider,
        model_id="spare-model",
        input_price_per_mtok=Decimal("1"),
        output_price_per_mtok=Decimal("2"),
        context_window=8000,
        max_output_tokens=1000,
    )
    return SimpleNamespace(
        live_route=live_route,
        provider=live_route.models[0].provider,
        model=live_route.models[0],
        spare=spare,
        spare_model=spare_model,
    )


def _staff(django_user_model, *codenames: str):
    user = django_user_model.objects.create_user("writer", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="routing", codename__in=codenames)
    )
    return user


# (method, path, body, the permission it needs, status with it), each from the `world` fixture
API_WRITES = {
    "provider create": lambda w: (
        "post",
        "/api/v1/providers",
        {"name": "acme", "kind": "openai", "base_url": "https://x.io"},
        "add_provider",
        201,
    ),
    "provider change": lambda w: (
        "patch",
        f"/api/v1/providers/{w.provider.id}",
        {"enabled": True},
        "change_provider",
        200,
    ),
    "provider delete": lambda w: ("delete", f"/api/v1/providers/{w.spare.id}", None, "delete_provider", 204),
    "model create": lambda w: ("post", "/api/v1/models", {**MODEL, "provider": "spare"}, "add_model", 201),
    "model change": lambda w: (
        "patch",
        f"/api/v1/models/{w.model.id}",
        {"display_name": "mini"},
        "change_model",
        200,
    ),
    "model delete": lambda w: ("delete", f"/api/v1/models/{w.spare_model.id}", None, "delete_model", 204),
    "route create": lambda w: ("post", "/api/v1/routes", {"name": "faq-bot"}, "add_route", 201),
    "route change": lambda w: (
        "patch",
        "/api/v1/routes/support-bot",
        {"description": "the help widget"},
        "change_route",
        200,
    ),
    "live policy": lambda w: (
        "put",
        "/api/v1/routes/support-bot/live-policy",
        {"policy_version_id": w.live_route.version.id},
        "change_route",
        200,
    ),
    "policy create": lambda w: (
        "post",
        "/api/v1/routes/support-bot/policies",
        {"name": "second", "spec": COMPLEXITY_SPEC},
        "add_routingpolicy",
        201,
    ),
    "policy publish": lambda w: (
        "post",
        "/api/v1/routes/support-bot/policies/by-complexity/versions",
        {"spec": RULES, "note": "v2"},
        "add_policyversion",
        201,
    ),
    "key create": lambda w: (
        "post",
        "/api/v1/keys",
        {"name": "ci", "routes": ["support-bot"]},
        "add_apikey",
        201,
    ),
    "key revoke": lambda w: (
        "post",
        f"/api/v1/keys/{w.live_route.api_key.id}/revoke",
        None,
        "change_apikey",
        200,
    ),
}


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("write", API_WRITES)
def test_an_api_write_by_staff_without_its_permission_is_a_403_and_changes_nothing(
    world, django_user_model, write
):
    method, path, body, permission, _ = API_WRITES[write](world)
    audited = AuditEntry.objects.count()
    response = getattr(_api(_staff(django_user_model)), method)(path, body, format="json")
    assert response.status_code == 403, response.content
    assert f"routing.{permission}" in response.json()["error"]["message"]
    assert AuditEntry.objects.count() == audited


@pytest.mark.parametrize("write", API_WRITES)
def test_an_api_write_with_its_permission_succeeds(world, django_user_model, write):
    method, path, body, permission, status = API_WRITES[write](world)
    response = getattr(_api(_staff(django_user_model, permission)), method)(path, body, format="json")
    assert response.status_code == status, response.content


@pytest.mark.parametrize(
    "path",
    ["/api/v1/providers", "/api/v1/models", "/api/v1/routes", "/api/v1/keys", "/api/v1/routes/support-bot"],
)
def test_staff_without_permissions_still_read_the_api(world, django_user_model, path):
    assert _api(_staff(django_user_model)).get(path).status_code == 200


def test_a_user_who_is_not_staff_cannot_write_even_with_the_permission(world, django_user_model):
    user = _staff(django_user_model, "add_route")
    user.is_staff = False
    user.save()
    assert _api(user).post("/api/v1/routes", {"name": "faq-bot"}, format="json").status_code == 403


def _provider_form(**changes) -> dict:
    data = {"name": "acme", "kind": "openai", "base_url": "https://x.io", "options": "{}", "enabled": "on"}
    return {**data, **changes}


def _model_form(w, **changes) -> dict:
    return {**MODEL, "provider": str(w.spare.id), "enabled": "on", **changes}


# (path, form data, the permission it needs) of each web UI write; with it, each redirects
WEB_WRITES = {
    "provider create": lambda w: ("/registry/providers/new/", _provider_form(), "add_provider"),
    "provider edit": lambda w: (
        f"/registry/providers/{w.spare.id}/",
        _provider_form(name="spare", base_url="https://y.io"),
        "change_provider",
    ),
    "provider disable": lambda w: (
        f"/registry/providers/{w.spare.id}/enabled/",
        {"enabled": "0"},
        "change_provider",
    ),
    "model create": lambda w: ("/registry/models/new/", _model_form(w), "add_model"),
    "model edit": lambda w: (
        f"/registry/models/{w.spare_model.id}/",
        _model_form(w, provider=str(w.provider.id), model_id="spare-model", display_name="Spare"),
        "change_model",
    ),
    "route create": lambda w: ("/routes/", {"name": "faq-bot", "daily_budget_usd": "5"}, "add_route"),
    "policy create": lambda w: (
        "/routes/support-bot/policies",
        {"name": "second", "spec": json.dumps(COMPLEXITY_SPEC)},
        "add_routingpolicy",
    ),
    "policy publish": lambda w: (
        "/routes/support-bot/policies/by-complexity/publish",
        {"spec": json.dumps(RULES), "note": "v2"},
        "add_policyversion",
    ),
    "live policy": lambda w: (
        "/routes/support-bot/live-policy",
        {"version": w.live_route.version.id},
        "change_route",
    ),
}


@pytest.mark.parametrize("write", WEB_WRITES)
def test_a_web_write_by_staff_without_its_permission_is_a_403_page_and_changes_nothing(
    world, client, django_user_model, write
):
    path, data, _ = WEB_WRITES[write](world)
    client.force_login(_staff(django_user_model))
    audited = AuditEntry.objects.count()
    response = client.post(path, data)
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()
    assert AuditEntry.objects.count() == audited


@pytest.mark.parametrize("write", WEB_WRITES)
def test_a_web_write_with_its_permission_succeeds(world, client, django_user_model, write):
    path, data, permission = WEB_WRITES[write](world)
    client.force_login(_staff(django_user_model, permission))
    audited = AuditEntry.objects.count()
    response = client.post(path, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert AuditEntry.objects.count() > audited


def test_staff_without_permissions_still_read_the_routes_and_registry_pages(world, client, django_user_model):
    client.force_login(_staff(django_user_model))
    for path in ["/routes/", "/routes/support-bot/", "/registry/"]:
        assert client.get(path).status_code == 200, path
