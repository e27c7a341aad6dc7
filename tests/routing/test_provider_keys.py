"""A provider's `api_key_env` names only allowlisted variables, never routelab's own, in the API, the web UI,
the admin and the services; a stored row naming another variable is called without reading it."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError

from devtools.simulator.server import run_in_thread
from routing import services
from routing.models import Model, Provider
from routing.provider_keys import key_env_refusal
from routing.providers.base import ChatRequest, ProviderError

pytestmark = pytest.mark.django_db

SECRET = "test-only-guarded-simulator-secret"
REFUSED = ["SECRET_KEY", "DATABASE_URL", "MY_TOKEN"]
PROVIDER = {"name": "acme", "kind": "openai_compatible", "base_url": "https://llm.example.com/v1"}
QUESTION = ChatRequest(messages=({"role": "user", "content": "What is the capital of France?"},))


@pytest.fixture
def registry_admin(client, django_user_model):
    """A staff user (not a superuser) with the registry permissions, signed in."""
    user = django_user_model.objects.create_user("registrar", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="routing",
            codename__in=["add_provider", "change_provider", "view_provider", "add_model", "change_model"],
        )
    )
    client.force_login(user)
    return client


@pytest.fixture(scope="module")
def guarded_simulator():
    """A simulator that answers only requests carrying SECRET as their key, and says when none came."""
    with run_in_thread(seed=7, time_scale=0.0, api_key=SECRET) as running:
        yield running


def _stored_model(base_url: str, api_key_env: str) -> Model:
    """A provider row written before the allowlist existed: straight into the table, unvalidated."""
    provider = Provider.objects.create(
        name="legacy", kind=Provider.Kind.OPENAI_COMPATIBLE, base_url=base_url, api_key_env=api_key_env
    )
    return Model.objects.create(
        provider=provider,
        model_id="gpt-4o-mini",
        input_price_per_mtok=Decimal("0.15"),
        output_price_per_mtok=Decimal("0.60"),
        context_window=128_000,
        max_output_tokens=1024,
    )


# -- the API --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REFUSED)
def test_the_api_refuses_a_variable_off_the_allowlist_with_a_400_naming_the_field(staff_api, name):
    response = staff_api.post("/api/v1/providers", {**PROVIDER, "api_key_env": name}, format="json")
    assert response.status_code == 400, response.json()
    message = " ".join(response.json()["error"]["fields"]["api_key_env"])
    assert name in message and "*_API_KEY" in message
    assert not Provider.objects.exists()


def test_the_api_accepts_an_allowlisted_variable(staff_api):
    response = staff_api.post(
        "/api/v1/providers", {**PROVIDER, "api_key_env": "OPENAI_API_KEY"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Provider.objects.get().api_key_env == "OPENAI_API_KEY"


def test_the_api_refuses_to_point_an_existing_provider_at_a_secret(staff_api):
    provider = services.provider_create(**PROVIDER, api_key_env="ACME_API_KEY")
    response = staff_api.patch(
        f"/api/v1/providers/{provider.id}", {"api_key_env": "SECRET_KEY"}, format="json"
    )
    assert response.status_code == 400
    assert "api_key_env" in response.json()["error"]["fields"]
    provider.refresh_from_db()
    assert provider.api_key_env == "ACME_API_KEY"


def test_the_allowlist_setting_widens_what_is_accepted(staff_api, settings):
    settings.PROVIDER_KEY_ENV_ALLOWLIST = ["*_API_KEY", "MY_*"]
    response = staff_api.post("/api/v1/providers", {**PROVIDER, "api_key_env": "MY_TOKEN"}, format="json")
    assert response.status_code == 201, response.json()


def test_no_allowlist_pattern_lets_a_provider_name_routelabs_own_variables(settings):
    settings.PROVIDER_KEY_ENV_ALLOWLIST = ["*"]
    own = ["SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "EMAIL_HOST_PASSWORD"]
    own += ["WEBHOOK_SIGNING_SECRET", "TEST_DATABASE_NAME", "ALLOWED_HOSTS", "PGPASSWORD"]
    assert [name for name in own if key_env_refusal(name) is None] == []
    assert key_env_refusal("MY_TOKEN") is None


# -- the web UI and the admin ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REFUSED)
def test_the_registry_form_shows_the_refusal_beside_the_field(registry_admin, name):
    data = {**PROVIDER, "api_key_env": name, "options": "{}", "enabled": "on"}
    response = registry_admin.post("/registry/providers/new/", data)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["api_key_env"]
    assert "PROVIDER_KEY_ENV_ALLOWLIST" in errors["api_key_env"][0]
    assert not Provider.objects.exists()


def test_the_registry_form_accepts_an_allowlisted_variable(registry_admin):
    data = {**PROVIDER, "api_key_env": "OPENAI_API_KEY", "options": "{}", "enabled": "on"}
    assert registry_admin.post("/registry/providers/new/", data).status_code == 302
    assert Provider.objects.get().api_key_env == "OPENAI_API_KEY"


def _admin_add(client, api_key_env: str):
    data = {**PROVIDER, "api_key_env": api_key_env, "options": "{}", "enabled": "on"}
    data.update({"models-TOTAL_FORMS": "0", "models-INITIAL_FORMS": "0"})
    return client.post("/admin/routing/provider/add/", data)


@pytest.mark.parametrize("name", REFUSED)
def test_the_admin_add_form_shows_the_refusal_beside_the_field(registry_admin, name):
    response = _admin_add(registry_admin, name)
    assert response.status_code == 200  # the admin redisplays a refused form
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["api_key_env"]
    assert name in errors["api_key_env"][0]
    assert not Provider.objects.exists()


def test_the_admin_add_form_accepts_an_allowlisted_variable(registry_admin):
    assert _admin_add(registry_admin, "OPENAI_API_KEY").status_code == 302
    assert Provider.objects.get().api_key_env == "OPENAI_API_KEY"


@pytest.mark.parametrize("name", REFUSED)
def test_the_services_refuse_a_variable_off_the_allowlist(name):
    with pytest.raises(ValidationError) as refused:
        services.provider_create(**PROVIDER, api_key_env=name)
    assert "api_key_env" in refused.value.message_dict


# -- at call time ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["SECRET_KEY", "MY_TOKEN"])
def test_a_stored_provider_naming_a_refused_variable_is_called_without_it(
    guarded_simulator, monkeypatch, caplog, name
):
    monkeypatch.setenv(name, SECRET)
    model = _stored_model(f"{guarded_simulator.url}/v1", name)

    with caplog.at_level(logging.WARNING, logger="routing.provider_keys"):
        assert model.target().api_key == ""
        with pytest.raises(ProviderError) as failed:
            services.model_complete(model=model, request=QUESTION)

    # the simulator says no key at all arrived (it would have accepted SECRET)
    assert failed.value.status == 401
    assert "didn't provide an API key" in failed.value.message
    assert f"provider legacy is called without a key: its api_key_env {name}" in caplog.text
    assert SECRET not in caplog.text


def test_a_stored_provider_naming_an_allowlisted_variable_sends_its_key(guarded_simulator, monkeypatch):
    monkeypatch.setenv("LEGACY_API_KEY", SECRET)
    model = _stored_model(f"{guarded_simulator.url}/v1", "LEGACY_API_KEY")
    assert services.model_complete(model=model, request=QUESTION).text
