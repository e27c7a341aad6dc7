"""The dashboard's selectors on factory data, and its staff-only pages."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import dashboard
from analytics.models import DailyResult, Score
from analytics.reports import experiment_report
from analytics.rollups import rollups_refresh
from routing.models import Call, Route
from tests.analytics.conftest import make_calls

pytestmark = pytest.mark.django_db
COSTS = {"control": 0.02, "treatment": 0.006}
QUALITY = {"control": 0.85, "treatment": 0.8}


def now() -> datetime:
    """The current time, read when a test runs (a module-level constant goes stale across midnight UTC)."""
    return datetime.now(UTC)


def assign_models(experiment, models) -> None:
    """Control calls ran on the premium model, treatment calls on the cheap one; a feature on most."""
    by_tier = {model.tier: model for model in models}
    calls = Call.objects.filter(experiment_id=experiment.id)
    for variant, tier in (("control", "premium"), ("treatment", "cheap")):
        model = by_tier[tier]
        calls.filter(variant=variant).update(model=model, model_key=model.key, metadata={"feature": "faq"})
    calls.filter(user_hash__endswith="0").update(metadata={"feature": "billing"})
    calls.filter(user_hash__endswith="1").update(metadata={})


def seed_days(experiment, models, *, days: int = 3, users: int = 60) -> None:
    """Calls on each of the last `days` days, rolled up, with a DailyResult stored at the end of each day."""
    for back in range(days - 1, -1, -1):
        day = now() - timedelta(days=back)
        make_calls(
            experiment, users=users, calls_per_user=2, costs=COSTS, quality=QUALITY, seed=back, day=day
        )
        rollups_refresh()
        report = experiment_report(experiment=experiment).as_json()
        DailyResult.objects.create(
            experiment_id=experiment.id, phase=experiment.phase, day=day.date(), results=report
        )
    assign_models(experiment, models)


@pytest.fixture
def seeded(running_experiment, live_route):
    seed_days(running_experiment, live_route.models)
    return running_experiment


def _billed(route):
    return Call.objects.filter(route=route, status__in=["ok", "error"])


# -- route selectors -----------------------------------------------------------------------------------------


def test_calls_per_model_per_day_count_every_call_of_the_route(seeded):
    data = dashboard.route_dashboard(route=seeded.route)
    rows = data["calls_per_model"]
    assert sum(row["calls"] for row in rows) == Call.objects.filter(route=seeded.route).count()
    assert {row["model"] for row in rows} == {"simulator/claude-opus-4-1", "simulator/gpt-4o-mini"}
    assert len({row["day"] for row in rows}) == 3


def test_cost_per_request_by_tier_is_the_mean_cost_of_billed_calls(seeded):
    data = dashboard.route_dashboard(route=seeded.route)
    by_tier = {row["tier"]: row for row in data["cost"]["tier"]}
    assert list(by_tier) == ["cheap", "premium"]
    premium = [
        float(c) for c in _billed(seeded.route).filter(model__tier="premium").values_list("cost", flat=True)
    ]
    assert by_tier["premium"]["calls"] == len(premium)
    assert by_tier["premium"]["cost_per_request"] == pytest.approx(np.mean(premium))
    assert by_tier["cheap"]["cost_per_request"] < by_tier["premium"]["cost_per_request"]


def test_cost_by_feature_reads_the_metadata_and_names_calls_without_one(seeded):
    data = dashboard.route_dashboard(route=seeded.route)
    features = {row["feature"]: row["calls"] for row in data["cost"]["feature"]}
    assert set(features) == {"billing", "faq", "(none)"}
    assert features["billing"] == _billed(seeded.route).filter(metadata__feature="billing").count()
    assert sum(features.values()) == _billed(seeded.route).count()
    assert [row["day"] for row in data["cost"]["day"]] == sorted(row["day"] for row in data["cost"]["day"])


def test_quality_by_tier_is_the_mean_score_of_each_tier(seeded):
    rows = dashboard.route_dashboard(route=seeded.route)["quality_by_tier"]
    assert [(row["tier"], row["scorer"]) for row in rows] == [
        ("cheap", "recorded_quality"),
        ("premium", "recorded_quality"),
    ]
    cheap = Score.objects.filter(call__model__tier="cheap").values_list("value", flat=True)
    assert rows[0]["mean"] == pytest.approx(np.mean(list(cheap)))
    assert rows[0]["n"] == len(cheap)


def test_latency_percentiles_match_linear_interpolation_per_day(seeded):
    rows = dashboard.route_dashboard(route=seeded.route)["latency"]
    today = rows[-1]
    assert today["day"] == now().date().isoformat()
    latencies = Call.objects.filter(route=seeded.route, status="ok", started_at__date=now().date())
    values = list(latencies.values_list("latency_ms", flat=True))
    expected = np.percentile(values, [50, 95, 99])  # numpy's default is percentile_cont's interpolation
    assert [today["p50"], today["p95"], today["p99"]] == pytest.approx(list(expected))
    assert today["p50"] < today["p95"] < today["p99"]


def test_the_fallback_rate_is_the_share_of_billed_calls_with_a_fallback(seeded):
    rows = dashboard.route_dashboard(route=seeded.route)["fallback_rate"]
    calls = _billed(seeded.route)
    assert sum(row["calls"] for row in rows) == calls.count()
    assert sum(row["fallbacks"] for row in rows) == calls.filter(fallbacks_used__gt=0).count()
    assert all(row["rate"] == row["fallbacks"] / row["calls"] for row in rows)


def test_the_window_leaves_older_calls_out_and_never_exceeds_ninety_days(seeded):
    data = dashboard.route_dashboard(route=seeded.route, days=2)
    assert len({row["day"] for row in data["calls_per_model"]}) == 2
    assert dashboard.route_dashboard(route=seeded.route, days=1000)["days"] == 90
    assert dashboard.route_dashboard(route=seeded.route, days=0)["days"] == 1


def test_every_call_query_is_limited_to_the_route_and_the_window(seeded):
    with CaptureQueriesContext(connection) as queries:
        dashboard.route_dashboard(route=seeded.route)
    on_calls = [q["sql"] for q in queries.captured_queries if "routing_call" in q["sql"]]
    assert len(on_calls) >= 8
    for sql in on_calls:
        assert "route_id" in sql and "started_at" in sql and ">=" in sql, sql


# -- budgets -------------------------------------------------------------------------------------------------


def _spend(route, amount: str, when=None) -> None:
    make = dict(source="api", status="ok", route=route, started_at=when or now(), completed_at=when or now())
    Call.objects.create(id=uuid.uuid4(), cost=Decimal(amount), **make)


def test_a_route_past_its_budget_is_over_and_one_past_eighty_percent_is_a_warning(live_route):
    over, warned = live_route.route, Route.objects.create(name="faq-bot", daily_budget_usd=Decimal("10"))
    Route.objects.create(name="quiet-bot", daily_budget_usd=Decimal("10"))
    Route.objects.create(name="unbudgeted", daily_budget_usd=None)
    _spend(over, "30")  # budget 25
    _spend(warned, "8.5")
    _spend(Route.objects.get(name="unbudgeted"), "1000")
    alerts = dashboard.budget_alerts()
    assert [(a["route"], a["level"]) for a in alerts] == [("support-bot", "over"), ("faq-bot", "warning")]
    assert alerts[0]["spent_today"] == 30 and alerts[0]["budget"] == 25 and alerts[0]["share"] == 1.2


def test_spend_from_yesterday_does_not_count_against_today(live_route):
    _spend(live_route.route, "30", when=now() - timedelta(days=1))
    assert dashboard.budget_alerts() == []
    assert dashboard.route_dashboard(route=live_route.route)["budget"]["spent_today"] == 0


# -- experiments ---------------------------------------------------------------------------------------------


def test_the_experiment_dashboard_has_the_report_its_days_and_the_primary_metric(seeded):
    DailyResult.objects.create(experiment_id=seeded.id, phase=seeded.phase + 1, day=now().date(), results={})
    data = dashboard.experiment_dashboard(experiment=seeded)
    assert data["primary_metric"] == "cost"
    assert [day["day"] for day in data["days"]] == [
        (now() - timedelta(days=b)).date().isoformat() for b in (2, 1, 0)
    ]
    assert data["report"].rows and ("cost", "cost per call") in data["metrics"]


def test_today_is_the_live_report_until_the_day_is_stored(running_experiment):
    make_calls(running_experiment, users=40, calls_per_user=1, costs=COSTS, quality=QUALITY)
    rollups_refresh()
    data = dashboard.experiment_dashboard(experiment=running_experiment)
    (today,) = data["days"]
    assert today["day"] == now().date().isoformat() and today["results"]["rows"]


def test_a_quality_primary_metric_is_the_first_quality_scorer():
    report = {"rows": [{"key": "cost"}, {"key": "quality:judge"}, {"key": "quality:exact"}]}
    assert dashboard.primary_metric_key(report, "quality") == "quality:judge"
    assert dashboard.primary_metric_key(report, "latency") == "cost"
    assert dashboard.primary_metric_key({"rows": []}, "quality") is None


# -- pages ---------------------------------------------------------------------------------------------------


def _pages(experiment):
    return [
        "/dashboard/",
        f"/dashboard/routes/{experiment.route.name}/",
        f"/dashboard/experiments/{experiment.id}/",
    ]


def test_staff_see_every_dashboard_page(seeded, client, staff_user):
    client.force_login(staff_user)
    for url in _pages(seeded):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b'src="/dashboard/plotly-' in response.content


def test_everyone_else_is_sent_to_the_login_page(running_experiment, client, django_user_model):
    for url in _pages(running_experiment):
        assert client.get(url).url.startswith("/admin/login/")
    client.force_login(django_user_model.objects.create_user("someone", password="pw-for-tests-only"))
    for url in _pages(running_experiment):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/admin/login/")


def test_the_experiment_page_shows_the_metric_table_and_the_cumulative_chart(seeded, client, staff_user):
    client.force_login(staff_user)
    page = client.get(f"/dashboard/experiments/{seeded.id}/").content.decode()
    assert 'id="metric-table"' in page and 'id="metric-cost-treatment"' in page
    assert "cost per call" in page and 'Plotly.newPlot("chart-cumulative"' in page
    assert seeded.route.name in page and "Verdict" in page
    other = client.get(f"/dashboard/experiments/{seeded.id}/?metric=latency").content.decode()
    assert '<option value="latency" selected>' in other


def test_a_feature_named_in_markup_is_shown_as_typed_on_the_route_dashboard(seeded, client, staff_user):
    hostile = '<b>big</b><a href="http://x">l</a>'
    Call.objects.filter(route=seeded.route).update(metadata={"feature": hostile})
    client.force_login(staff_user)

    page = client.get(f"/dashboard/routes/{seeded.route.name}/").content.decode()

    assert 'Plotly.newPlot("chart-cost-feature"' in page
    assert "&lt;b&gt;big&lt;" in page
    assert "<b>big" not in page and "<a href=" not in page.replace('<a href="/', "")


def test_bad_parameters_get_a_400_naming_the_field(seeded, client, staff_user):
    client.force_login(staff_user)
    response = client.get(f"/dashboard/routes/{seeded.route.name}/?days=abc")
    assert response.status_code == 400 and response.content.startswith(b"days:")
    assert client.get(f"/dashboard/routes/{seeded.route.name}/?days=91").status_code == 400
    response = client.get(f"/dashboard/experiments/{seeded.id}/?metric=<b>nope</b>")
    assert response.status_code == 400 and response.content.startswith(b"metric:")
    assert response["Content-Type"].startswith("text/plain")
    assert client.get("/dashboard/routes/no-such-route/").status_code == 404
    assert client.get("/dashboard/experiments/999999/").status_code == 404


def test_a_budget_alert_appears_once_spend_passes_the_budget(live_route, client, staff_user):
    client.force_login(staff_user)
    url = f"/dashboard/routes/{live_route.route.name}/"
    assert 'id="budget-banner"' not in client.get(url).content.decode()
    assert "No route is near its daily budget" in client.get("/dashboard/").content.decode()
    _spend(live_route.route, "26")
    page = client.get("/dashboard/").content.decode()
    assert "Over budget" in page and "$26.00 today, 104% of its" in page
    banner = client.get(url).content.decode()
    assert 'id="budget-banner" class="banner over"' in banner


def test_plotly_is_served_from_the_package_with_a_long_cache(client):
    from analytics.web_urls import urlpatterns

    path = next(p for p in urlpatterns if p.name == "plotly-js").pattern
    response = client.get(f"/dashboard/{path}", HTTP_ACCEPT_ENCODING="identity")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/javascript")
    assert "max-age=31536000" in response["Cache-Control"]
    assert b"plotly.js" in response.content[:2000] and len(response.content) > 1_000_000
    zipped = client.get(f"/dashboard/{path}", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert zipped["Content-Encoding"] == "gzip" and len(zipped.content) < len(response.content) / 2
