"""A person creates an experiment in the web UI, starts it, watches traffic arrive, and promotes a variant."""

import pytest

from routing import services as routing
from routing.gateway.recorder import calls_flush
from routing.models import Route
from tests.e2e.chat import chat_traffic

pytestmark = [pytest.mark.integration]
PREMIUM = {"kind": "rules", "rules": [], "default": "simulator/claude-opus-4-1"}


def _send_traffic(url: str, key: str, users: int) -> None:
    chat_traffic(url, key, users)
    calls_flush()


@pytest.mark.django_db(transaction=True)
def test_create_start_send_traffic_and_promote_in_the_browser(asgi_server, live_route, staff_page, tmp_path):
    routing.policy_create(route=live_route.route, name="all-premium", spec=PREMIUM)
    page = staff_page
    page.goto(f"{asgi_server}/experiments/")
    page.click("#new-experiment")
    page.select_option("#id_route", "support-bot")
    page.fill("#id_name", "premium-vs-complexity")
    page.fill("#id_hypothesis", "Complexity routing keeps quality at a fraction of the cost.")
    page.select_option("#id_control", label="support-bot: by-complexity@v1 (complexity)")
    page.select_option("#id_treatment", label="support-bot: all-premium@v1 (rules)")
    page.select_option("#id_primary_metric", "cost")
    page.click("#preview")
    assert "50%" in page.inner_text("#plan")
    page.click("#create")
    page.wait_for_selector("#start")
    assert page.inner_text("#status") == "draft"

    page.click("#start")
    page.wait_for_selector("#pause")
    assert page.inner_text("#status") == "running"

    _send_traffic(asgi_server, live_route.key, users=30)
    cells = "[...document.querySelectorAll('#exposures .calls')]"
    total_calls = f"{cells}.reduce((sum, c) => sum + +c.textContent, 0)"
    page.wait_for_function(f"() => {total_calls} >= 30", timeout=15_000)

    page.select_option("#promote-variant", "treatment")
    page.fill("#promote-reason", "Treatment wins on the primary metric.")
    page.fill("#promote-override", "30 users are enough for this demo route.")  # under the required sample
    page.click("#promote")
    page.wait_for_selector(".badge.ok")
    page.screenshot(path=str(tmp_path / "promoted.png"), full_page=True)
    assert page.inner_text("#status") == "concluded"
    assert Route.objects.get(name="support-bot").live_policy.label == "all-premium@v1"
