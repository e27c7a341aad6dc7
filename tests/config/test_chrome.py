"""What a person expects around every page: who is signed in, a way out, a favicon, breadcrumbs."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_every_page_names_the_signed_in_user_and_offers_a_logout_that_signs_out(staff_user):
    client = Client()
    client.force_login(staff_user)
    page = client.get("/routes/")
    assert '<strong id="signed-in-user">staff</strong>' in page.text
    assert 'action="/admin/logout/"' in page.text
    assert 'rel="icon"' in page.text
    response = client.post("/admin/logout/")
    assert response.status_code == 302
    assert client.get("/routes/").status_code == 302  # back to the login page


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response.content.startswith(b"<svg")


@pytest.mark.django_db
def test_a_route_page_has_breadcrumbs_back_to_the_routes(live_route, staff_user):
    client = Client()
    client.force_login(staff_user)
    page = client.get("/routes/support-bot/")
    assert '<nav class="breadcrumbs"><a href="/routes/">Routes</a> › support-bot</nav>' in page.text
