"""Key limits and a route's request bounds set in the REST API and the web UI, with the permission for
what they change, bounds checked beside each field, and the gateway enforcing what was set."""

import json
from decimal import Decimal

import pytest

from routing.models import ApiKey, Route

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def _ask(client, live_route):
    return client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": FRANCE}),
        content_type="application/json",
        **live_route.auth,
    )


def test_the_api_sets_a_keys_limits_and_the_gateway_enforces_them(
    staff_api, client, live_route, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.patch(
            f"/api/v1/keys/{live_route.api_key.id}",
            {"requests_per_minute": 1, "spend_per_day_usd": "2.5"},
            format="json",
        )
    assert response.status_code == 200, response.content
    assert response.json()["requests_per_minute"] == 1 and response.json()["spend_per_day_usd"] == "2.5000"
    assert _ask(client, live_route).status_code == 200
    refused = _ask(client, live_route)
    assert refused.status_code == 429 and "1 requests per minute" in refused.json()["error"]["message"]
    assert int(refused["Retry-After"]) >= 1


def test_the_api_creates_a_key_with_its_limits_and_clears_one_with_null(staff_api, live_route):
    created = staff_api.post(
        "/api/v1/keys", {"name": "batch", "routes": ["support-bot"], "tokens_per_day": 5000}, format="json"
    )
    assert created.status_code == 201, created.content
    key_id = created.json()["id"]
    assert ApiKey.objects.get(id=key_id).tokens_per_day == 5000
    cleared = staff_api.patch(f"/api/v1/keys/{key_id}", {"tokens_per_day": None}, format="json")
    assert cleared.status_code == 200 and ApiKey.objects.get(id=key_id).tokens_per_day is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("requests_per_minute", 0),
        ("tokens_per_day", -1),
        ("spend_per_day_usd", "-1"),
        ("requests_per_minute", "x"),
    ],
)
def test_a_key_limit_out_of_bounds_is_a_400_naming_it_and_changes_nothing(
    staff_api, live_route, field, value
):
    response = staff_api.patch(f"/api/v1/keys/{live_route.api_key.id}", {field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert getattr(ApiKey.objects.get(id=live_route.api_key.id), field) is None


def test_the_api_sets_a_routes_attempts_and_deadline(staff_api, live_route):
    response = staff_api.patch(
        "/api/v1/routes/support-bot", {"max_attempts": 2, "deadline_seconds": 5}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["max_attempts"], response.json()["deadline_seconds"]) == (2, 5.0)
    refused = staff_api.patch("/api/v1/routes/support-bot", {"max_attempts": 21}, format="json")
    assert refused.status_code == 400 and "max_attempts" in refused.json()["error"]["fields"]
    assert Route.objects.get(name="support-bot").max_attempts == 2


def test_the_api_sets_a_routes_allowed_fallbacks_in_order_and_refuses_unknown_models(staff_api, live_route):
    fallbacks = ["simulator/claude-opus-4-1", "simulator/gpt-4o"]
    response = staff_api.patch("/api/v1/routes/support-bot", {"allowed_fallbacks": fallbacks}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["allowed_fallbacks"] == fallbacks
    refused = staff_api.patch(
        "/api/v1/routes/support-bot", {"allowed_fallbacks": ["simulator/gpt-5"]}, format="json"
    )
    assert refused.status_code == 400 and "allowed_fallbacks" in refused.json()["error"]["fields"]
    assert Route.objects.get(name="support-bot").allowed_fallbacks == fallbacks


def test_a_route_created_through_the_api_takes_its_limits_and_allowed_fallbacks(staff_api, live_route):
    body = {"name": "triage", "max_attempts": 3, "allowed_fallbacks": ["simulator/gpt-4o"]}
    response = staff_api.post("/api/v1/routes", body, format="json")
    assert response.status_code == 201, response.content
    route = Route.objects.get(name="triage")
    assert (route.max_attempts, route.allowed_fallbacks) == (3, ["simulator/gpt-4o"])


def test_staff_without_the_permission_cannot_change_limits(client, staff_user, live_route):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(staff_user)
    assert (
        api.patch(
            f"/api/v1/keys/{live_route.api_key.id}", {"requests_per_minute": 1}, format="json"
        ).status_code
        == 403
    )
    client.force_login(staff_user)
    assert client.post("/routes/support-bot/limits", {"max_attempts": 2}).status_code == 403
    fallbacks = {"allowed_fallbacks": ["simulator/gpt-4o"]}
    assert api.patch("/api/v1/routes/support-bot", fallbacks, format="json").status_code == 403
    assert (
        client.post("/routes/support-bot/limits", {"allowed_fallbacks": "simulator/gpt-4o"}).status_code
        == 403
    )
    assert client.get(f"/routes/support-bot/keys/{live_route.api_key.id}/limits").status_code == 403
    assert ApiKey.objects.get(id=live_route.api_key.id).requests_per_minute is None
    assert Route.objects.get(name="support-bot").max_attempts is None
    assert Route.objects.get(name="support-bot").allowed_fallbacks == []


def test_the_route_page_saves_the_budget_attempts_and_deadline(client, routing_writer, live_route):
    client.force_login(routing_writer)
    page = client.get("/routes/support-bot/").content.decode()
    assert 'id="route-limits"' in page and 'name="deadline_seconds"' in page

    saved = client.post(
        "/routes/support-bot/limits",
        {"daily_budget_usd": "7.5", "max_attempts": "3", "deadline_seconds": "12"},
    )
    assert saved.status_code == 302
    route = Route.objects.get(name="support-bot")
    assert (route.daily_budget_usd, route.max_attempts, route.deadline_seconds) == (Decimal("7.5"), 3, 12.0)

    refused = client.post("/routes/support-bot/limits", {"max_attempts": "99", "deadline_seconds": "0"})
    assert refused.status_code == 400
    errors = refused.context["limits_form"].errors
    assert set(errors) == {"max_attempts", "deadline_seconds"}
    assert Route.objects.get(name="support-bot").max_attempts == 3


def test_the_route_page_saves_the_allowed_fallbacks_in_the_order_typed(client, routing_writer, live_route):
    client.force_login(routing_writer)
    assert 'name="allowed_fallbacks"' in client.get("/routes/support-bot/").content.decode()

    typed = "simulator/claude-opus-4-1, simulator/gpt-4o"
    assert client.post("/routes/support-bot/limits", {"allowed_fallbacks": typed}).status_code == 302
    assert Route.objects.get(name="support-bot").allowed_fallbacks == [
        "simulator/claude-opus-4-1",
        "simulator/gpt-4o",
    ]
    page = client.get("/routes/support-bot/").content.decode()
    assert f'value="{typed}"' in page and "<code>simulator/claude-opus-4-1</code>" in page

    refused = client.post("/routes/support-bot/limits", {"allowed_fallbacks": "simulator/gpt-5"})
    assert refused.status_code == 400
    assert (
        "unknown or disabled model(s): simulator/gpt-5"
        in refused.context["limits_form"].errors["allowed_fallbacks"][0]
    )


def test_a_key_made_on_the_route_page_carries_its_limits_and_its_limits_page_edits_them(
    client, routing_writer, live_route
):
    client.force_login(routing_writer)
    created = client.post("/routes/support-bot/keys", {"name": "limited", "requests_per_minute": "30"})
    assert created.status_code == 302
    key = ApiKey.objects.get(name="limited")
    assert key.requests_per_minute == 30
    assert "30/min" in client.get("/routes/support-bot/").content.decode()

    url = f"/routes/support-bot/keys/{key.id}/limits"
    assert 'value="30"' in client.get(url).content.decode()
    assert client.post(url, {"requests_per_minute": "", "spend_per_day_usd": "1.25"}).status_code == 302
    key.refresh_from_db()
    assert (key.requests_per_minute, key.spend_per_day_usd) == (None, Decimal("1.25"))
    refused = client.post(url, {"tokens_per_day": "0"})
    assert refused.status_code == 400 and "tokens_per_day" in refused.context["form"].errors
