"""Policies in the web UI: a form per common kind, JSON that publishes unchanged, history with a diff."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from routing import services
from routing.models import RoutingPolicy


@pytest.fixture
def editor(django_user_model):
    user = django_user_model.objects.create_user("editor", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="add_routingpolicy"))
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _ids(live_route, *keys):
    by_key = {model.key: model.id for model in live_route.models}
    return [str(by_key[key]) for key in keys]


@pytest.mark.django_db
def test_a_complexity_policy_made_with_its_form_is_the_spec_the_form_previewed(live_route, editor):
    simple, moderate, complex_ = _ids(
        live_route, "simulator/gpt-4o-mini", "simulator/gpt-4o", "simulator/claude-opus-4-1"
    )
    fields = {
        "kind": "complexity",
        "complexity-name": "from-the-form",
        "complexity-simple": [simple],
        "complexity-moderate": [moderate],
        "complexity-complex": [complex_],
        "complexity-moderate_threshold": "0.3",
        "complexity-complex_threshold": "0.7",
    }
    url = "/routes/support-bot/policies/new"
    preview = editor.post(url, {**fields, "preview": "1"})
    assert preview.status_code == 200
    shown = json.loads(unescape(re.search(r'<pre id="spec-json">(.*?)</pre>', preview.text, re.S).group(1)))
    assert not RoutingPolicy.objects.filter(name="from-the-form").exists()
    created = editor.post(url, {**fields, "create": "1"})
    assert created.status_code == 302
    version = RoutingPolicy.objects.get(name="from-the-form").versions.get()
    assert version.spec == shown
    assert version.spec["tiers"] == {
        "simple": ["simulator/gpt-4o-mini"],
        "moderate": ["simulator/gpt-4o"],
        "complex": ["simulator/claude-opus-4-1"],
    }
    assert version.spec["thresholds"] == {"moderate": 0.3, "complex": 0.7}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind,fields,expected_kind",
    [
        (
            "rules",
            {
                "default": "simulator/gpt-4o-mini",
                "keywords": "prove, proof",
                "keywords_model": "simulator/claude-opus-4-1",
            },
            "rules",
        ),
        (
            "cascade",
            {"first": "simulator/gpt-4o-mini", "second": "simulator/claude-opus-4-1", "threshold": "0.6"},
            "cascade",
        ),
        ("cost_aware", {"min_quality": "0.8", "expected_output_tokens": "250"}, "cost_aware"),
    ],
)
def test_each_kind_form_publishes_a_policy_the_engine_accepts(
    live_route, editor, kind, fields, expected_kind
):
    by_key = {model.key: str(model.id) for model in live_route.models}
    data = {"kind": kind, f"{kind}-name": f"{kind.replace('_', '-')}-form", "create": "1"}
    data |= {f"{kind}-{name}": by_key.get(value, value) for name, value in fields.items()}
    response = editor.post("/routes/support-bot/policies/new", data)
    assert response.status_code == 302, response.text[:2000]
    version = RoutingPolicy.objects.get(name=data[f"{kind}-name"]).versions.get()
    assert version.kind == expected_kind
    services.policy_spec_validate(spec=version.spec)


@pytest.mark.django_db
def test_a_form_names_the_bad_field_and_writes_nothing(live_route, editor):
    response = editor.post(
        "/routes/support-bot/policies/new",
        {"kind": "cascade", "cascade-name": "bad", "cascade-threshold": "7", "create": "1"},
    )
    assert response.status_code == 400
    assert "Ensure this value is less than or equal to 1" in response.text
    assert not RoutingPolicy.objects.filter(name="bad").exists()


@pytest.mark.django_db
def test_creating_from_a_form_needs_the_permission(live_route, staff_user):
    client = Client(raise_request_exception=False)
    client.force_login(staff_user)
    response = client.post("/routes/support-bot/policies/new", {"kind": "cost_aware", "create": "1"})
    assert response.status_code == 403


@pytest.mark.django_db
def test_the_edit_box_holds_real_json_that_publishes_unchanged(live_route, routing_writer):
    client = Client()
    client.force_login(routing_writer)
    page = client.get("/routes/support-bot/")
    box = re.search(r'<textarea name="spec" spellcheck="false">(.*?)</textarea>', page.text, re.S).group(1)
    assert json.loads(unescape(box)) == live_route.version.spec
    published = client.post(
        "/routes/support-bot/policies/by-complexity/publish", {"spec": unescape(box), "note": "same"}
    )
    assert published.status_code == 302
    assert live_route.version.policy.versions.count() == 2


@pytest.mark.django_db
def test_the_history_shows_what_changed_between_two_versions(live_route, staff_user):
    spec = dict(live_route.version.spec)
    spec["tiers"] = {**spec["tiers"], "simple": ["simulator/gpt-4o"]}
    services.policy_publish(policy=live_route.version.policy, spec=spec, note="simple to mid")
    client = Client()
    client.force_login(staff_user)
    page = client.get("/routes/support-bot/policies/by-complexity/history")
    assert page.status_code == 200
    diff = re.search(r'<div class="diff" id="diff">(.*?)</div>\s*<h2>', page.text, re.S).group(1)
    removed = re.findall(r'<div class="remove">(.*?)</div>', diff)
    added = re.findall(r'<div class="add">(.*?)</div>', diff)
    assert any("gpt-4o-mini" in unescape(line) for line in removed)
    assert any('"simulator/gpt-4o"' in unescape(line) for line in added)
    assert "simple to mid" in page.text
    same = client.get("/routes/support-bot/policies/by-complexity/history?from=1&to=1")
    assert "Choose two different versions" in same.text
    assert client.get("/routes/support-bot/policies/by-complexity/history?from=9").status_code == 400
