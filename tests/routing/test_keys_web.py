"""API keys on the route page of the staff web UI: create once, revoke after confirming, usage per key."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from routing import services
from routing.gateway.keys import hash_api_key
from routing.models import ApiKey
from routing.selectors import api_key_usage
from tests.factories import CallFactory, RouteFactory

pytestmark = pytest.mark.django_db


def _grant(user, *codenames):
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="routing", codename__in=codenames)
    )


@pytest.fixture
def route():
    return RouteFactory(name="faq-bot")


@pytest.fixture
def key_admin(client, staff_user):
    _grant(staff_user, "add_apikey", "change_apikey")
    client.force_login(staff_user)
    return client


@pytest.fixture
def plain_staff(client, staff_user):
    client.force_login(staff_user)
    return client


def _new_key_on(page: str) -> str | None:
    if 'id="new-key">' not in page:
        return None
    return page.split('id="new-key">')[1].split("<")[0]


def test_creating_a_key_redirects_and_the_route_page_shows_the_raw_key_once(key_admin, route):
    response = key_admin.post("/routes/faq-bot/keys", {"name": "mobile app"})
    assert response.status_code == 302
    assert response["Location"] == "/routes/faq-bot/"

    first = key_admin.get("/routes/faq-bot/").content.decode()
    raw = _new_key_on(first)
    assert raw is not None and raw.startswith("rl_")
    assert "Copy this key now" in first
    assert ApiKey.objects.get(key_hash=hash_api_key(raw)).name == "mobile app"

    reloaded = key_admin.get("/routes/faq-bot/").content.decode()
    assert _new_key_on(reloaded) is None
    assert raw not in reloaded
    assert ApiKey.objects.filter(name="mobile app").count() == 1


def test_getting_the_revoke_url_asks_for_confirmation_and_revokes_nothing(key_admin, route):
    api_key, _ = services.api_key_create(name="partner", routes=[route])
    response = key_admin.get(f"/routes/faq-bot/keys/{api_key.id}/revoke")
    assert response.status_code == 200
    page = response.content.decode()
    assert "partner" in page and "faq-bot" in page
    assert "Revoke key</button>" in page
    assert 'href="/routes/faq-bot/"' in page
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_posting_the_confirmation_revokes_the_key(key_admin, route):
    api_key, _ = services.api_key_create(name="partner", routes=[route])
    response = key_admin.post(f"/routes/faq-bot/keys/{api_key.id}/revoke")
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    page = key_admin.get("/routes/faq-bot/").content.decode()
    assert "partner" in page and "revoked" in page


def test_the_confirmation_page_of_a_revoked_key_says_it_is_already_revoked(key_admin, route):
    api_key, _ = services.api_key_create(name="partner", routes=[route])
    services.api_key_revoke(api_key=api_key)
    page = key_admin.get(f"/routes/faq-bot/keys/{api_key.id}/revoke").content.decode()
    assert "already revoked" in page
    assert "Revoke key</button>" not in page


def test_a_key_of_another_route_is_not_found_under_this_one(key_admin, route):
    other = RouteFactory(name="other-bot")
    api_key, _ = services.api_key_create(name="partner", routes=[other])
    assert key_admin.get(f"/routes/faq-bot/keys/{api_key.id}/revoke").status_code == 404
    assert key_admin.post(f"/routes/faq-bot/keys/{api_key.id}/revoke").status_code == 404
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_staff_without_the_key_permissions_get_403_and_change_nothing(plain_staff, route):
    api_key, _ = services.api_key_create(name="partner", routes=[route])
    assert plain_staff.post("/routes/faq-bot/keys", {"name": "sneaky"}).status_code == 403
    assert plain_staff.get(f"/routes/faq-bot/keys/{api_key.id}/revoke").status_code == 403
    assert plain_staff.post(f"/routes/faq-bot/keys/{api_key.id}/revoke").status_code == 403
    assert not ApiKey.objects.filter(name="sneaky").exists()
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_the_create_permission_alone_does_not_allow_revoking(client, staff_user, route):
    _grant(staff_user, "add_apikey")
    client.force_login(staff_user)
    api_key, _ = services.api_key_create(name="partner", routes=[route])
    assert client.post("/routes/faq-bot/keys", {"name": "allowed"}).status_code == 302
    assert client.post(f"/routes/faq-bot/keys/{api_key.id}/revoke").status_code == 403


def test_anonymous_users_are_sent_to_the_login_page(client, route):
    response = client.post("/routes/faq-bot/keys", {"name": "anon"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 5000])
def test_an_empty_or_oversized_name_is_a_400_beside_the_field(key_admin, route, name):
    response = key_admin.post("/routes/faq-bot/keys", {"name": name})
    assert response.status_code == 400
    page = response.content.decode()
    card = page.split('id="api-keys"')[1].split("<h2>Policies</h2>")[0]
    assert 'class="errorlist' in card
    assert ("at most 100 characters" in card) if name.strip() else ("This field is required" in card)
    assert not ApiKey.objects.exists()


def _calls(api_key, route, rows):
    start = timezone.now() - timedelta(hours=3)
    made = []
    for minutes, input_tokens, output_tokens, cost in rows:
        made.append(
            CallFactory(
                route=route,
                api_key=api_key,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost=Decimal(cost),
                started_at=start + timedelta(minutes=minutes),
            )
        )
    return made


def test_usage_per_key_sums_the_calls_of_each_key(route):
    busy, _ = services.api_key_create(name="busy", routes=[route])
    quiet, _ = services.api_key_create(name="quiet", routes=[route])
    idle, _ = services.api_key_create(name="idle", routes=[route])
    busy_calls = _calls(
        busy, route, [(0, 120, 30, "0.00060000"), (5, 2000, 700, "0.01200000"), (9, 7, 0, "0")]
    )
    quiet_calls = _calls(quiet, route, [(2, 50, 50, "0.00012500")])
    CallFactory(route=route, api_key=None, input_tokens=999, output_tokens=999, cost=Decimal("9"))

    usage = api_key_usage(keys=[busy, quiet, idle])

    assert usage[busy.id].calls == 3
    assert usage[busy.id].tokens == 120 + 30 + 2000 + 700 + 7 + 0
    assert usage[busy.id].spend_usd == Decimal("0.00060000") + Decimal("0.01200000")
    assert usage[busy.id].last_used_at == busy_calls[2].started_at
    assert usage[quiet.id].calls == 1
    assert usage[quiet.id].tokens == 100
    assert usage[quiet.id].spend_usd == Decimal("0.000125")
    assert usage[quiet.id].last_used_at == quiet_calls[0].started_at
    assert usage[idle.id].calls == 0
    assert usage[idle.id].tokens == 0
    assert usage[idle.id].spend_usd == 0
    assert usage[idle.id].last_used_at is None


def test_usage_is_one_query_however_many_keys(route, django_assert_num_queries):
    keys = [services.api_key_create(name=f"k{n}", routes=[route])[0] for n in range(5)]
    for key in keys:
        _calls(key, route, [(1, 10, 10, "0.001")])
    with django_assert_num_queries(1):
        api_key_usage(keys=keys)


def test_the_keys_table_shows_usage_and_revoked_keys(key_admin, route):
    busy, _ = services.api_key_create(name="busy", routes=[route])
    gone, _ = services.api_key_create(name="gone", routes=[route])
    _calls(busy, route, [(0, 1000, 250, "0.00500000"), (1, 400, 100, "0.00250000")])
    services.api_key_revoke(api_key=gone)
    gone.refresh_from_db()

    page = key_admin.get("/routes/faq-bot/").content.decode()

    busy_row = page.split(f'id="key-{busy.id}"')[1].split("</tr>")[0]
    assert '<td class="calls">2</td>' in busy_row
    assert '<td class="tokens">1750</td>' in busy_row
    assert '<td class="spend">$0.007500</td>' in busy_row
    assert f"/routes/faq-bot/keys/{busy.id}/revoke" in busy_row
    gone_row = page.split(f'id="key-{gone.id}"')[1].split("</tr>")[0]
    assert "revoked" in gone_row
    assert '<td class="calls">0</td>' in gone_row
    assert f"/keys/{gone.id}/revoke" not in gone_row
