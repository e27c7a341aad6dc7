"""The routing web UI: routes, policies and keys managed by a staff user."""

import json

import pytest
from django.contrib.auth.models import Permission

from routing.models import ApiKey, PolicyVersion, Route

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, routing_writer):
    client.force_login(routing_writer)
    return client


def test_the_routes_page_needs_a_staff_login(client):
    response = client.get("/routes/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_route_is_created_from_the_routes_page(staff_client):
    response = staff_client.post("/routes/", {"name": "faq-bot", "daily_budget_usd": "5"})
    assert response.status_code == 302
    assert Route.objects.get(name="faq-bot").daily_budget_usd == 5
    assert b"faq-bot" in staff_client.get("/routes/").content


def test_a_policy_with_a_bad_spec_shows_the_path_of_the_bad_field(staff_client, live_route):
    spec = {"kind": "complexity", "tiers": {"simple": "gpt", "moderate": [], "complex": []}}
    response = staff_client.post("/routes/support-bot/policies", {"name": "broken", "spec": json.dumps(spec)})
    assert response.status_code == 400
    assert b"tiers.simple" in response.content
    assert not PolicyVersion.objects.filter(policy__name="broken").exists()


def test_invalid_json_is_reported_not_raised(staff_client, live_route):
    response = staff_client.post("/routes/support-bot/policies", {"name": "broken", "spec": "{nope"})
    assert response.status_code == 400
    assert b"Not valid JSON" in response.content


def test_publishing_and_making_a_version_live_from_the_ui(staff_client, live_route):
    spec = json.dumps({"kind": "rules", "rules": [], "default": "simulator/gpt-4o"})
    response = staff_client.post(
        "/routes/support-bot/policies/by-complexity/publish", {"spec": spec, "note": "v2"}
    )
    assert response.status_code == 302
    version = PolicyVersion.objects.get(number=2)
    response = staff_client.post("/routes/support-bot/live-policy", {"version": version.id})
    assert response.status_code == 302
    page = staff_client.get("/routes/support-bot/").content.decode()
    assert 'id="live-policy">by-complexity@v2<' in page


def test_a_new_key_is_shown_once_then_only_its_prefix(staff_client, staff_user, live_route):
    staff_user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="routing", codename__in=["add_apikey", "change_apikey"]
        )
    )
    response = staff_client.post("/routes/support-bot/keys", {"name": "mobile app"}, follow=True)
    page = response.content.decode()
    raw = page.split('id="new-key">')[1].split("<")[0]
    assert raw.startswith("rl_")
    assert raw not in staff_client.get("/routes/support-bot/").content.decode()
    key = ApiKey.objects.get(name="mobile app")
    response = staff_client.post(f"/routes/support-bot/keys/{key.id}/revoke")
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
