"""POST /api/v1/route (the decision only) and the management APIs of routes, policies and keys."""

import pytest

from routing.gateway.recorder import calls_flush
from routing.models import Call, PolicyVersion

pytestmark = pytest.mark.django_db

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def test_the_route_api_returns_the_decision_with_fallbacks_and_trace(client, live_route):
    response = client.post(
        "/api/v1/route", {"messages": FRANCE}, content_type="application/json", **live_route.auth
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "simulator/gpt-4o-mini"
    assert body["provider"] == "simulator"
    assert body["provider_model_id"] == "gpt-4o-mini"
    assert body["policy_version"] == "by-complexity@v1"
    assert body["tier"] == "simple"
    assert "simulator/gpt-4o-mini" not in body["fallbacks"]
    assert body["trace"]
    assert calls_flush() == 1
    assert Call.objects.get().status == "decided"


def test_the_route_api_names_a_bad_field(client, live_route):
    response = client.post(
        "/api/v1/route",
        {"messages": [{"role": "user", "content": 7}]},
        content_type="application/json",
        **live_route.auth,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages[0].content"


def test_the_route_api_requires_a_key(client, live_route):
    response = client.post("/api/v1/route", {"messages": FRANCE}, content_type="application/json")
    assert response.status_code == 401


def test_publishing_creates_a_new_version_and_keeps_the_old_one(staff_api, live_route):
    spec = {"kind": "rules", "rules": [], "default": "simulator/gpt-4o"}
    response = staff_api.post(
        "/api/v1/routes/support-bot/policies/by-complexity/versions",
        {"spec": spec, "note": "everything to 4o"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["number"] == 2
    assert PolicyVersion.objects.filter(policy__name="by-complexity").count() == 2
    old = PolicyVersion.objects.get(number=1)
    assert old.kind == "complexity"


def test_an_invalid_spec_is_rejected_with_the_path_of_the_bad_field(staff_api, live_route):
    spec = {
        "kind": "rules",
        "rules": [{"when": {"min_input_tokens": "lots"}, "model": "simulator/gpt-4o"}],
        "default": "simulator/gpt-4o",
    }
    response = staff_api.post(
        "/api/v1/routes/support-bot/policies", {"name": "bad", "spec": spec}, format="json"
    )
    assert response.status_code == 400
    assert "rules[0].when.min_input_tokens" in response.json()["error"]["message"]


def test_a_spec_naming_an_unknown_model_is_rejected(staff_api, live_route):
    spec = {"kind": "rules", "rules": [], "default": "simulator/gpt-9"}
    response = staff_api.post(
        "/api/v1/routes/support-bot/policies", {"name": "bad", "spec": spec}, format="json"
    )
    assert response.status_code == 400
    assert "simulator/gpt-9" in response.json()["error"]["message"]


def test_a_key_is_shown_once_and_stored_hashed(staff_api, live_route):
    response = staff_api.post("/api/v1/keys", {"name": "ci", "routes": ["support-bot"]}, format="json")
    assert response.status_code == 201
    raw = response.json()["key"]
    assert raw.startswith("rl_")
    listed = staff_api.get("/api/v1/keys").json()["results"]
    assert all("key" not in item for item in listed)
    from routing.models import ApiKey

    assert not ApiKey.objects.filter(key_hash=raw).exists()


def test_a_key_needs_a_route(staff_api, live_route):
    response = staff_api.post("/api/v1/keys", {"name": "ci", "routes": []}, format="json")
    assert response.status_code == 400
    assert "routes" in response.json()["error"]["fields"]


def test_the_live_policy_must_belong_to_the_route(staff_api, live_route):
    from routing import services

    other = services.route_create(name="other")
    version = services.policy_create(
        route=other, name="p", spec={"kind": "rules", "rules": [], "default": "simulator/gpt-4o"}
    )
    response = staff_api.put(
        "/api/v1/routes/support-bot/live-policy", {"policy_version_id": version.id}, format="json"
    )
    assert response.status_code == 400
    assert "belongs to another route" in response.json()["error"]["message"]
