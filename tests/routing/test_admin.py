"""The Django admin writes the registry through the services: validation and cache invalidation hold."""

import json

import pytest
from django.forms.models import model_to_dict

from routing.models import Model, Provider

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def _decide(client, live_route) -> str:
    response = client.post(
        "/api/v1/route",
        data=json.dumps({"messages": FRANCE}),
        content_type="application/json",
        **live_route.auth,
    )
    assert response.status_code == 200, response.content
    return response.json()["model"]


def _form_data(instance, **changes) -> dict:
    data = {**model_to_dict(instance), **changes}
    # an unchecked checkbox is absent from a browser's POST; a None field is an empty input
    return {k: ("on" if v is True else "" if v is None else v) for k, v in data.items() if v is not False}


def test_a_model_disabled_in_the_admin_stops_serving_at_once(client, admin_client, live_route):
    assert _decide(client, live_route) == "simulator/gpt-4o-mini"
    mini = Model.objects.get(model_id="gpt-4o-mini")
    data = _form_data(mini, enabled=False)

    response = admin_client.post(f"/admin/routing/model/{mini.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Model.objects.get(pk=mini.pk).enabled is False
    assert _decide(client, live_route) != "simulator/gpt-4o-mini"  # no restart, no cache cleared by hand


def test_the_admin_refuses_an_invalid_model_and_changes_nothing(admin_client, live_route):
    mini = Model.objects.get(model_id="gpt-4o-mini")
    data = _form_data(mini, context_window=-5)

    response = admin_client.post(f"/admin/routing/model/{mini.pk}/change/", data)

    assert response.status_code == 200  # the form again, with the error beside the field
    assert Model.objects.get(pk=mini.pk).context_window == mini.context_window


def test_routes_policies_and_keys_are_read_only_in_the_admin(admin_client, live_route):
    route = live_route.route
    assert admin_client.get(f"/admin/routing/route/{route.pk}/change/").status_code == 200
    response = admin_client.post(f"/admin/routing/route/{route.pk}/change/", {"name": "renamed"})
    assert response.status_code == 403
    assert admin_client.get("/admin/routing/apikey/add/").status_code == 403
    assert Provider.objects.filter(name="simulator").exists()


def _audit(action: str) -> list:
    from routing.models import AuditEntry

    return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_admin_registry_changes_are_audited_with_who_and_what(admin_client, admin_user, live_route):
    mini = Model.objects.get(model_id="gpt-4o-mini")
    data = _form_data(mini, input_price_per_mtok="0.3")

    response = admin_client.post(f"/admin/routing/model/{mini.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    [entry] = _audit("model.update")
    assert entry.actor == admin_user
    assert entry.target_id == str(mini.pk)
    assert entry.changes == {"input_price_per_mtok": ["0.150000", "0.3"]}


def test_a_provider_with_a_model_added_in_the_admin_is_created_through_the_services(admin_client, admin_user):
    data = {
        "name": "acme",
        "kind": "openai",
        "base_url": "https://api.acme.example/v1",
        "api_key_env": "ACME_API_KEY",
        "enabled": "on",
        "options": "{}",
        "models-TOTAL_FORMS": "1",
        "models-INITIAL_FORMS": "0",
        "models-0-model_id": "acme-small",
        "models-0-display_name": "Acme small",
        "models-0-tier": "cheap",
        "models-0-input_price_per_mtok": "0.1",
        "models-0-output_price_per_mtok": "0.4",
        "models-0-context_window": "8000",
        "models-0-max_output_tokens": "2000",
        "models-0-enabled": "on",
    }

    response = admin_client.post("/admin/routing/provider/add/", data)

    assert response.status_code == 302, response.content.decode()[:3000]
    provider = Provider.objects.get(name="acme")
    assert list(provider.models.values_list("model_id", flat=True)) == ["acme-small"]
    assert [e.target_id for e in _audit("provider.create")] == [str(provider.pk)]
    assert [e.actor for e in _audit("model.create")] == [admin_user]


def test_a_model_deleted_in_the_admin_is_audited_and_gone(admin_client, live_route):
    spare = Model.objects.exclude(model_id="gpt-4o-mini").first()

    response = admin_client.post(f"/admin/routing/model/{spare.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302, response.content.decode()[:2000]
    assert not Model.objects.filter(pk=spare.pk).exists()
    assert [e.target_id for e in _audit("model.delete")] == [str(spare.pk)]
