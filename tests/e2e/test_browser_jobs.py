"""The four jobs of a person in the web UI, each from the UI alone, in Debian's headless Chromium."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Permission

from routing.gateway.recorder import calls_flush
from routing.models import Route, RoutingPolicy
from tests.e2e.chat import chat_traffic

pytestmark = [pytest.mark.integration]


def _grant(username: str, *codenames: str) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


def _send_traffic(url: str, key: str, users: int) -> None:
    chat_traffic(url, key, users)
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


@pytest.fixture
def demo_processes(transactional_db):
    """The demo's own Celery worker and beat (refreshing the roll-ups every 5 s), on the test database."""
    from devtools import demo

    worker, beat = demo.worker_start(), demo.beat_start()
    yield
    for process in (beat, worker):
        demo.process_stop(process)


@pytest.mark.django_db(transaction=True)
def test_job_two_a_key_made_in_the_ui_sends_traffic_that_the_report_shows_within_ten_seconds(
    asgi_server, live_route, staff_page, demo_processes
):
    _grant("editor", "add_routingpolicy", "add_experiment", "change_experiment", "add_apikey")
    _create_policy_with_its_form(staff_page, asgi_server)
    _create_and_start_experiment(staff_page, asgi_server)
    experiment_page = staff_page.url
    page = staff_page
    page.goto(f"{asgi_server}/routes/support-bot/")
    page.fill("form[action$='/keys'] input[name=name]", "browser app")
    page.click("form[action$='/keys'] button")
    key = page.inner_text("#new-key").strip()
    chat_traffic(asgi_server, key, 24, prefix="browser-user")  # no flush here: the demo's beat stores them
    experiment_id = experiment_page.rstrip("/").rsplit("/", 1)[-1]
    page.goto(f"{asgi_server}/dashboard/experiments/{experiment_id}/")
    calls = "[...document.querySelectorAll('#variant-table tbody tr td:nth-child(4)')]"
    total = f"{calls}.reduce((sum, cell) => sum + (+cell.textContent || 0), 0)"
    deadline = time.monotonic() + 10  # from the last call: the page shows the roll-ups as they are at load
    while page.evaluate(f"() => {total}") < 24 and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        page.reload()
    assert page.evaluate(f"() => {total}") >= 24, "the report did not show the calls within 10 s"


@pytest.mark.django_db(transaction=True)
def test_job_three_open_the_weekly_report_and_run_it_now(asgi_server, live_route, staff_page):
    _grant("editor", "add_routingpolicy", "add_experiment", "change_experiment", "add_weeklyreport")
    _create_policy_with_its_form(staff_page, asgi_server)
    _create_and_start_experiment(staff_page, asgi_server)
    experiment_id = staff_page.url.rstrip("/").rsplit("/", 1)[-1]
    _send_traffic(asgi_server, live_route.key, users=12)
    page = staff_page
    page.goto(f"{asgi_server}/dashboard/experiments/{experiment_id}/")
    page.click("#weekly-reports-link")
    page.click("#weekly-run button")
    page.wait_for_selector("#verdict")
    assert "revision 1" in page.inner_text("h1")
    assert "cascade-vs-complexity" in page.inner_text("h1")
    _send_traffic(asgi_server, live_route.key, users=6)
    page.click("#weekly-run button")
    page.wait_for_selector("text=revision 2")
    page.goto(f"{asgi_server}/dashboard/experiments/{experiment_id}/weekly/")
    revisions = page.eval_on_selector_all(
        "#weekly-table tbody tr td:nth-child(2)", "cells => cells.map(c => c.textContent.trim())"
    )
    assert revisions == ["2", "1"]
