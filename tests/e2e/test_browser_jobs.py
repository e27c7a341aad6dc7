"""The four jobs of a person in the web UI, each from the UI alone, in Debian's headless Chromium."""

from __future__ import annotations

import httpx
import pytest
from django.contrib.auth.models import Permission

from routing.gateway.recorder import calls_flush
from routing.models import Route, RoutingPolicy

pytestmark = [pytest.mark.integration]


def _grant(username: str, *codenames: str) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


def _send_traffic(url: str, key: str, users: int) -> None:
    body = {"messages": [{"role": "user", "content": "What is the capital of France?"}]}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        for i in range(users):
            assert client.post("/v1/chat/completions", json={**body, "user": f"user-{i}"}).status_code == 200
    calls_flush()


def _create_policy_with_its_form(page, url: str) -> None:
    page.goto(f"{url}/routes/support-bot/")
    page.click("#new-policy-form")
    page.click("#kind-cascade")
    page.fill("#id_cascade-name", "cheap-first")
    page.select_option("#id_cascade-first", label="simulator/gpt-4o-mini (cheap)")
    page.select_option("#id_cascade-second", label="simulator/claude-opus-4-1 (premium)")
    page.fill("#id_cascade-threshold", "0.6")
    page.click("button[name=preview]")
    assert '"kind": "cascade"' in page.inner_text("#spec-json")
    page.click("#create-policy")
    page.wait_for_url(f"{url}/routes/support-bot/")


def _create_and_start_experiment(page, url: str) -> None:
    page.goto(f"{url}/experiments/")
    page.click("#new-experiment")
    page.select_option("#id_route", "support-bot")
    page.fill("#id_name", "cascade-vs-complexity")
    page.select_option("#id_control", label="support-bot: by-complexity@v1 (complexity)")
    page.select_option("#id_treatment", label="support-bot: cheap-first@v1 (cascade)")
    page.click("#preview")
    page.click("#create")
    page.wait_for_selector("#start")
    page.click("#start")
    page.wait_for_selector("#pause")


@pytest.mark.django_db(transaction=True)
def test_job_one_a_policy_from_its_form_then_an_experiment_created_and_started(
    asgi_server, live_route, staff_page
):
    _grant("editor", "add_routingpolicy", "add_experiment", "change_experiment")
    _create_policy_with_its_form(staff_page, asgi_server)
    spec = RoutingPolicy.objects.get(name="cheap-first").versions.get().spec
    assert spec["chain"] == ["simulator/gpt-4o-mini", "simulator/claude-opus-4-1"]
    _create_and_start_experiment(staff_page, asgi_server)
    assert staff_page.inner_text("#status") == "running"


@pytest.mark.django_db(transaction=True)
def test_job_four_promote_the_winner_then_roll_back(asgi_server, live_route, staff_page, tmp_path):
    _grant("editor", "add_routingpolicy", "add_experiment", "change_experiment")
    _create_policy_with_its_form(staff_page, asgi_server)
    _create_and_start_experiment(staff_page, asgi_server)
    _send_traffic(asgi_server, live_route.key, users=20)
    page = staff_page
    page.reload()
    page.select_option("#promote-variant", "treatment")
    page.fill("#promote-reason", "The cascade costs less.")
    page.fill("#promote-override", "A browser test: 20 users are enough.")
    page.click("#promote")
    page.wait_for_selector("form[action*=rollback]")
    assert Route.objects.get(name="support-bot").live_policy.label == "cheap-first@v1"
    page.fill("form[action*=rollback] input[name=reason]", "Quality complaints from support.")
    page.click("form[action*=rollback] button")
    page.wait_for_selector("text=rolled back")
    page.screenshot(path=str(tmp_path / "rolled-back.png"), full_page=True)
    assert Route.objects.get(name="support-bot").live_policy.label == "by-complexity@v1"
