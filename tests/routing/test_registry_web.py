"""The model registry pages: providers and models created, edited and disabled through the services."""

import html
import json
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from routing.models import AuditEntry, Model, Provider
from tests.factories import ModelFactory, ProviderFactory

pytestmark = pytest.mark.django_db

PERMS = ["add_provider", "change_provider", "add_model", "change_model"]

PROVIDER = {
    "name": "acme",
    "kind": Provider.Kind.OPENAI_COMPATIBLE,
    "base_url": "https://llm.example.com/v1",
    "api_key_env": "ACME_API_KEY",
    "options": '{"timeout": 30}',
    "enabled": "on",
}


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def editor(django_user_model):
    user = django_user_model.objects.create_user("editor", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="routing", codename__in=PERMS)
    )
    return user


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def provider():
    return ProviderFactory(name="acme")


def model_data(provider, /, **overrides) -> dict:
    data = {
        "provider": str(provider.id),
        "model_id": "acme-large",
        "display_name": "Acme Large",
        "tier": Model.Tier.PREMIUM,
        "input_price_per_mtok": "3.00",
        "output_price_per_mtok": "15.00",
        "context_window": "200000",
        "max_output_tokens": "8192",
        "supports_tools": "on",
        "quality_estimate": "0.8",
        "enabled": "on",
    }
    return {**data, **overrides}


def audited(action: str, row) -> AuditEntry:
    return AuditEntry.objects.get(action=action, target_type=row._meta.label_lower, target_id=str(row.pk))


# -- reads ----------------------------------------------------------------------------------------------


def test_the_registry_needs_a_staff_login(client):
    response = client.get("/registry/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_registry_lists_each_provider_with_its_models(staff_client):
    model = ModelFactory(provider=ProviderFactory(name="acme"), model_id="acme-small", tier=Model.Tier.CHEAP)
    ProviderFactory(name="empty-one")
    page = staff_client.get("/registry/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "acme-small" in body and "Cheap" in body and "empty-one" in body
    assert f"/registry/models/{model.id}/" in body
    assert "/registry/providers/new/" in body and "/registry/models/new/" in body
    assert '<nav class="breadcrumbs"><a href="/registry/">Registry</a>' in body


def test_the_edit_form_shows_the_options_as_indented_json(editor_client):
    provider = ProviderFactory(name="acme", options={"timeout": 30, "headers": {"x": "y"}})
    provider.refresh_from_db()  # jsonb orders the keys
    page = editor_client.get(f"/registry/providers/{provider.id}/")
    assert page.status_code == 200
    shown = page.context["form"]["options"].value()
    assert shown == json.dumps(provider.options, indent=2)
    assert html.escape(shown) in page.content.decode()


def test_the_options_shown_come_back_unchanged(editor_client):
    provider = ProviderFactory(name="acme", base_url="https://llm.example.com/v1", options={"t": [1, 2.5]})
    form = editor_client.get(f"/registry/providers/{provider.id}/").context["form"]
    data = {name: form[name].value() for name in form.fields}
    data["enabled"] = "on"
    response = editor_client.post(f"/registry/providers/{provider.id}/", data, follow=True)
    assert b"Provider acme unchanged" in response.content
    assert not AuditEntry.objects.exists()


# -- writes ---------------------------------------------------------------------------------------------


def test_a_provider_is_created_and_audited(editor_client, editor):
    response = editor_client.post("/registry/providers/new/", PROVIDER, follow=True)
    assert response.redirect_chain == [("/registry/", 302)]
    assert b"Provider acme created" in response.content
    provider = Provider.objects.get(name="acme")
    assert (provider.kind, provider.options, provider.enabled) == ("openai_compatible", {"timeout": 30}, True)
    assert audited("provider.create", provider).actor == editor


def test_a_provider_edit_saves_only_what_changed(editor_client, provider):
    data = {**PROVIDER, "base_url": provider.base_url, "api_key_env": "", "options": "{}"}
    data["base_url"] = "https://other.example.com/v1"
    response = editor_client.post(f"/registry/providers/{provider.id}/", data)
    assert response.status_code == 302
    provider.refresh_from_db()
    assert provider.base_url == "https://other.example.com/v1"
    assert set(audited("provider.update", provider).changes) == {"base_url"}


def test_a_model_is_created_and_audited(editor_client, provider):
    response = editor_client.post("/registry/models/new/", model_data(provider))
    assert response.status_code == 302
    model = Model.objects.get(provider=provider, model_id="acme-large")
    assert model.input_price_per_mtok == Decimal("3")
    assert (model.tier, model.capabilities, model.quality_estimate) == ("premium", ["tools"], 0.8)
    assert audited("model.create", model).changes["context_window"] == "200000"


def test_a_model_price_is_edited_and_the_change_audited(editor_client, provider):
    model = ModelFactory(provider=provider, model_id="acme-large", display_name="Acme Large")
    data = model_data(provider, tier=model.tier, supports_tools="", quality_estimate="")
    data.update(context_window=str(model.context_window), max_output_tokens=str(model.max_output_tokens))
    data.update(input_price_per_mtok="2.50", output_price_per_mtok="12.5")
    response = editor_client.post(f"/registry/models/{model.id}/", data)
    assert response.status_code == 302
    model.refresh_from_db()
    assert model.output_price_per_mtok == Decimal("12.5")
    assert audited("model.update", model).changes == {"output_price_per_mtok": ["10.000000", "12.5"]}


def test_a_model_is_disabled_and_enabled_by_its_button(editor_client, provider):
    model = ModelFactory(provider=provider)
    assert editor_client.post(f"/registry/models/{model.id}/enabled/", {"enabled": "0"}).status_code == 302
    model.refresh_from_db()
    assert model.enabled is False
    assert audited("model.update", model).changes == {"enabled": ["True", "False"]}
    editor_client.post(f"/registry/models/{model.id}/enabled/", {"enabled": "1"})
    model.refresh_from_db()
    assert model.enabled is True


def test_disabling_twice_writes_one_audit_entry(editor_client, provider):
    for _ in range(2):
        editor_client.post(f"/registry/providers/{provider.id}/enabled/", {"enabled": "0"})
    provider.refresh_from_db()
    assert provider.enabled is False
    assert AuditEntry.objects.filter(action="provider.update").count() == 1


def test_the_enable_button_refuses_a_value_it_does_not_know(editor_client, provider):
    response = editor_client.post(f"/registry/providers/{provider.id}/enabled/", {"enabled": "maybe"})
    assert response.status_code == 400
    assert not AuditEntry.objects.exists()


# -- permissions ----------------------------------------------------------------------------------------


def test_a_staff_user_without_the_permission_gets_403_on_every_write(staff_client, provider):
    model = ModelFactory(provider=provider)
    writes = [
        ("/registry/providers/new/", {**PROVIDER, "name": "other"}),
        (f"/registry/providers/{provider.id}/", {**PROVIDER, "base_url": "https://x.example.com"}),
        (f"/registry/providers/{provider.id}/enabled/", {"enabled": "0"}),
        ("/registry/models/new/", model_data(provider, model_id="other")),
        (f"/registry/models/{model.id}/", model_data(provider)),
        (f"/registry/models/{model.id}/enabled/", {"enabled": "0"}),
    ]
    for url, data in writes:
        assert staff_client.post(url, data).status_code == 403, url
    assert Provider.objects.count() == 1 and Model.objects.count() == 1
    assert Provider.objects.get().enabled and Model.objects.get().enabled
    assert not AuditEntry.objects.exists()


def test_one_permission_does_not_grant_another(client, django_user_model, provider):
    user = django_user_model.objects.create_user("half", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="add_provider"))
    client.force_login(user)
    assert client.get("/registry/providers/new/").status_code == 200
    assert client.post("/registry/models/new/", model_data(provider)).status_code == 403


# -- bad values -----------------------------------------------------------------------------------------

HUGE = str(10**30)
LONG = "x" * 5000

PROVIDER_BAD = {
    "name": ["", LONG, "not a slug!", HUGE * 3],
    "kind": ["", "nope", LONG],
    "base_url": [LONG, "ftp://x", "not a url", ""],
    "api_key_env": [LONG, "sk-secret-key", "lower_case"],
    "options": ["{", "[]", "1", '"text"', "null", LONG, '{"a": 1e999}', '{"a": NaN}', '{"a": "\\u0000"}'],
}

MODEL_BAD = {
    "provider": ["", "x", "-1", HUGE, "999999"],
    "model_id": ["", LONG],
    "display_name": [LONG],
    "tier": ["", "ultra", LONG],
    "input_price_per_mtok": ["", "-1", HUGE, "x", "NaN", "Infinity", "1e30", "0.0000001", LONG],
    "output_price_per_mtok": ["", "-1", HUGE, "x", "NaN", "1e30"],
    "context_window": ["", "-1", "0", HUGE, "x", "2147483648", "1.5", LONG],
    "max_output_tokens": ["", "-1", "0", HUGE, "x", "2147483648", "300000"],
    "quality_estimate": ["-1", "1.01", HUGE, "x", "NaN", "inf", "-inf", LONG],
}


def _assert_refused(response, field: str, value: str):
    assert response.status_code == 400, (field, value[:40])
    assert response.context["form"].errors, (field, value[:40])
    assert field in response.context["form"].errors, (field, value[:40], response.context["form"].errors)


@pytest.mark.parametrize(("field", "values"), PROVIDER_BAD.items())
def test_a_bad_provider_value_is_refused_beside_its_field(editor_client, field, values):
    for value in values:
        response = editor_client.post("/registry/providers/new/", {**PROVIDER, field: value})
        _assert_refused(response, field, value)
    assert not Provider.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(("field", "values"), PROVIDER_BAD.items())
def test_a_bad_provider_edit_is_refused_and_the_row_kept(editor_client, provider, field, values):
    before = Provider.objects.values().get()
    for value in values:
        response = editor_client.post(f"/registry/providers/{provider.id}/", {**PROVIDER, field: value})
        _assert_refused(response, field, value)
    assert Provider.objects.values().get() == before
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(("field", "values"), MODEL_BAD.items())
def test_a_bad_model_value_is_refused_beside_its_field(editor_client, provider, field, values):
    for value in values:
        response = editor_client.post("/registry/models/new/", model_data(provider, **{field: value}))
        _assert_refused(response, field, value)
    assert not Model.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize(("field", "values"), MODEL_BAD.items())
def test_a_bad_model_edit_is_refused_and_the_row_kept(editor_client, provider, field, values):
    model = ModelFactory(provider=provider, model_id="acme-large")
    before = Model.objects.values().get()
    for value in values:
        response = editor_client.post(f"/registry/models/{model.id}/", model_data(provider, **{field: value}))
        _assert_refused(response, field, value)
    assert Model.objects.values().get() == before
    assert not AuditEntry.objects.exists()


def test_a_duplicate_model_is_refused_with_a_message(editor_client, provider):
    ModelFactory(provider=provider, model_id="acme-large")
    response = editor_client.post("/registry/models/new/", model_data(provider))
    assert response.status_code == 400
    assert response.context["form"].non_field_errors()
    assert Model.objects.count() == 1


def test_a_duplicate_provider_name_is_refused_beside_the_name(editor_client, provider):
    response = editor_client.post("/registry/providers/new/", PROVIDER)
    _assert_refused(response, "name", "acme")


def test_a_replay_provider_without_a_dataset_is_refused_beside_the_options(editor_client):
    response = editor_client.post("/registry/providers/new/", {**PROVIDER, "kind": "replay", "options": "{}"})
    _assert_refused(response, "options", "{}")


@pytest.mark.parametrize(
    "url",
    [
        "/registry/providers/{}/",
        "/registry/providers/{}/enabled/",
        "/registry/models/{}/",
        "/registry/models/{}/enabled/",
    ],
)
def test_an_unknown_or_huge_id_is_a_404(editor_client, url):
    for pk in ["999999", HUGE]:
        assert editor_client.post(url.format(pk), {"enabled": "0"}).status_code == 404
