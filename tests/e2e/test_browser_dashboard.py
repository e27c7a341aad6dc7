"""A staff member reads the dashboard in a real browser: every chart is drawn by Plotly, served offline."""

from decimal import Decimal

import pytest

from routing.models import Route
from tests.analytics import conftest as analytics_fixtures
from tests.analytics.test_dashboard import seed_days

pytestmark = pytest.mark.integration
running_experiment = analytics_fixtures.running_experiment  # the analytics fixture, reused here

ROUTE_CHARTS = {
    "chart-routing",
    "chart-cost-model",
    "chart-cost-tier",
    "chart-cost-feature",
    "chart-cost-day",
    "chart-quality-tier",
    "chart-latency",
    "chart-fallback",
}


def _charts_drawn(page) -> set[str]:
    """The ids of the page's chart divs, once each holds a Plotly plot with at least one trace drawn."""
    ids = page.eval_on_selector_all("div.chart", "divs => divs.map(d => d.id)")
    for chart_id in ids:
        page.wait_for_selector(f"#{chart_id}.js-plotly-plot .main-svg")
        assert page.locator(f"#{chart_id} .main-svg .trace").count() > 0, f"{chart_id} has no trace"
    return set(ids)


@pytest.fixture
def seeded(running_experiment, live_route):
    seed_days(running_experiment, live_route.models, days=4, users=80)
    Route.objects.filter(id=live_route.route.id).update(daily_budget_usd=Decimal("1"))
    return running_experiment


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_pages_render_their_plotly_charts(asgi_server, staff_page, seeded, tmp_path):
    page, errors, outside = staff_page, [], []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(asgi_server) else None)

    page.goto(f"{asgi_server}/dashboard/")
    assert _charts_drawn(page) == {"chart-spend"}
    assert "Over budget" in page.inner_text("#budget-alerts")
    assert seeded.name in page.inner_text("#running-experiments")
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)

    page.click("#budget-alerts a")
    page.wait_for_selector("#budget-banner")
    assert _charts_drawn(page) == ROUTE_CHARTS
    assert "Over budget" in page.inner_text("#budget-banner")
    page.screenshot(path=str(tmp_path / "route.png"), full_page=True)

    page.goto(f"{asgi_server}/dashboard/experiments/{seeded.id}/")
    assert _charts_drawn(page) == {"chart-cumulative"}
    assert "cost per call" in page.inner_text("#metric-table #metric-cost-treatment")
    assert page.locator("#chart-cumulative .main-svg .trace").count() == 3  # band edges and the estimate
    page.screenshot(path=str(tmp_path / "experiment.png"), full_page=True)

    page.select_option("#metric-select select", "latency")
    page.wait_for_url("**metric=latency")
    assert _charts_drawn(page) == {"chart-cumulative"}
    assert "latency per call" in page.text_content("#chart-cumulative .gtitle")
    assert errors == [] and outside == []
