from decimal import Decimal

import pytest

from routing.models import Model, Provider
from tests.factories import ModelFactory, ProviderFactory

pytestmark = pytest.mark.django_db

VALID_MODEL = {
    "model_id": "gpt-4o-mini",
    "display_name": "GPT-4o mini",
    "tier": "cheap",
    "input_price_per_mtok": "0.15",
    "output_price_per_mtok": "0.60",
    "context_window": 128000,
    "max_output_tokens": 16384,
    "supports_tools": True,
}


def test_a_staff_user_registers_a_provider_and_a_model(staff_api):
    response = staff_api.post(
        "/api/v1/providers",
        {
            "name": "openai",
            "kind": "openai",
            "base_url": "https://api.openai.com/v1",
            "api_key_env": "OPENAI_API_KEY",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["api_key_env"] == "OPENAI_API_KEY"
    response = staff_api.post("/api/v1/models", {**VALID_MODEL, "provider": "openai"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["provider"] == "openai"
    assert body["capabilities"] == ["tools"]
    assert Model.objects.get(model_id="gpt-4o-mini").output_price_per_mtok == Decimal("0.60")


def test_models_are_listed_with_their_prices(staff_api):
    ModelFactory(model_id="m-1")
    body = staff_api.get("/api/v1/models").json()
    assert body["count"] == 1
    assert body["results"][0]["model_id"] == "m-1"
    assert body["results"][0]["input_price_per_mtok"] == "2.500000"


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"input_price_per_mtok": "-1"}, "input_price_per_mtok", "greater than or equal to 0"),
        ({"context_window": "many"}, "context_window", "valid integer"),
        ({"max_output_tokens": None}, "max_output_tokens", "may not be null"),
        ({"provider": "nobody"}, "provider", "does not exist"),
        ({"tier": "gold"}, "tier", "not a valid choice"),
        ({"max_output_tokens": 200_000}, "max_output_tokens", "context window"),
    ],
)
def test_bad_model_input_gets_a_400_naming_the_field(staff_api, change, field, fragment):
    ProviderFactory(name="sim")
    response = staff_api.post("/api/v1/models", {**VALID_MODEL, "provider": "sim", **change}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert fragment in " ".join(error["fields"][field])
    assert field in error["message"]
    assert not Model.objects.exists()


def test_a_missing_field_is_named(staff_api):
    ProviderFactory(name="sim")
    payload = {key: value for key, value in VALID_MODEL.items() if key != "context_window"}
    response = staff_api.post("/api/v1/models", {**payload, "provider": "sim"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"context_window": ["This field is required."]}


@pytest.mark.parametrize(
    ("payload", "field", "fragment"),
    [
        ({"name": "x", "kind": "cohere", "base_url": "https://x.io"}, "kind", "not a valid choice"),
        ({"name": "x", "kind": "openai", "base_url": "ftp://x.io"}, "base_url", "http(s) URL"),
        ({"name": "x", "kind": "openai"}, "base_url", "required"),
        (
            {"name": "x", "kind": "openai", "base_url": "https://x.io", "api_key_env": "sk-live-123"},
            "api_key_env",
            "not the key itself",
        ),
        ({"name": "x", "kind": "replay"}, "options", "dataset"),
        ({"name": "not a slug!", "kind": "openai", "base_url": "https://x.io"}, "name", "letters"),
        (
            {"name": "x", "kind": "openai", "base_url": "https://x.io", "options": [1]},
            "options",
            "dictionary",
        ),
    ],
)
def test_bad_provider_input_gets_a_400_naming_the_field(staff_api, payload, field, fragment):
    response = staff_api.post("/api/v1/providers", payload, format="json")
    assert response.status_code == 400, response.json()
    assert fragment in " ".join(response.json()["error"]["fields"][field])
    assert not Provider.objects.exists()


def test_a_duplicate_provider_name_is_a_400(staff_api):
    ProviderFactory(name="dup")
    response = staff_api.post(
        "/api/v1/providers", {"name": "dup", "kind": "openai", "base_url": "https://x.io"}, format="json"
    )
    assert response.status_code == 400
    assert "already exists" in response.json()["error"]["fields"]["name"][0]


def test_malformed_json_is_a_400(staff_api):
    response = staff_api.post("/api/v1/providers", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["error"]["message"]


def test_a_partial_update_changes_only_the_given_fields(staff_api):
    model = ModelFactory(model_id="m")
    response = staff_api.patch(f"/api/v1/models/{model.id}", {"output_price_per_mtok": "12"}, format="json")
    assert response.status_code == 200, response.json()
    model.refresh_from_db()
    assert str(model.output_price_per_mtok) == "12.000000"
    assert model.model_id == "m"


def test_a_provider_in_use_cannot_be_deleted(staff_api):
    model = ModelFactory()
    response = staff_api.delete(f"/api/v1/providers/{model.provider_id}")
    assert response.status_code == 409
    assert "disable it instead" in response.json()["error"]["message"]
    assert Provider.objects.filter(id=model.provider_id).exists()


def test_an_unknown_id_is_a_404(staff_api):
    assert staff_api.get("/api/v1/models/999999").status_code == 404


def test_the_registry_api_requires_a_staff_user(client, django_user_model):
    assert client.get("/api/v1/models").status_code in (401, 403)
    client.force_login(django_user_model.objects.create_user("plain", password="pw-for-tests-only"))
    assert client.get("/api/v1/models").status_code == 403


def test_the_openapi_schema_is_served_and_valid(client):
    from openapi_spec_validator import validate

    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert "/api/v1/models" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/providers"]
    assert {"get", "patch", "delete"} <= set(schema["paths"]["/api/v1/models/{model_id}"])
    assert {"get", "patch", "delete"} <= set(schema["paths"]["/api/v1/providers/{provider_id}"])


def test_the_schema_generates_without_a_warning_so_no_endpoint_is_left_out(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")


def test_the_interactive_api_docs_page_renders(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.django_db(transaction=True)
def test_registry_writes_through_the_api_are_audited_and_a_deleted_model_stops_serving(
    client, staff_api, staff_user, live_route
):
    import json

    from routing.models import AuditEntry

    def decided() -> str:
        body = json.dumps({"messages": [{"role": "user", "content": "What is the capital of France?"}]})
        response = client.post("/api/v1/route", data=body, content_type="application/json", **live_route.auth)
        assert response.status_code == 200, response.content
        return response.json()["model"]

    assert decided() == "simulator/gpt-4o-mini"
    mini = Model.objects.get(model_id="gpt-4o-mini")
    patched = staff_api.patch(f"/api/v1/models/{mini.id}", {"display_name": "mini"}, format="json")
    assert patched.status_code == 200

    assert staff_api.delete(f"/api/v1/models/{mini.id}").status_code == 204

    assert decided() != "simulator/gpt-4o-mini"  # the snapshot was dropped after commit, nothing by hand
    entries = list(AuditEntry.objects.filter(target_id=str(mini.id), actor__isnull=False).order_by("id"))
    assert [(e.action, e.actor) for e in entries] == [
        ("model.update", staff_user),
        ("model.delete", staff_user),
    ]
    assert entries[0].changes == {"display_name": [mini.display_name, "mini"]}


def test_a_refused_delete_leaves_no_audit_entry(staff_api):
    from routing.models import AuditEntry

    model = ModelFactory()
    assert staff_api.delete(f"/api/v1/providers/{model.provider_id}").status_code == 409
    assert not AuditEntry.objects.filter(action="provider.delete").exists()
