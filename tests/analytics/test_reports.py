"""Roll-ups and the significance report: every call counted once, the report read from roll-ups alone."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import reports
from analytics.models import UserAggregate
from analytics.reports import experiment_report
from analytics.rollups import histogram_percentile, rollups_refresh
from analytics.stats import RatioStat, sequential_test
from routing.models import Call
from tests.analytics.conftest import make_calls

pytestmark = pytest.mark.django_db
COSTS = {"control": 0.02, "treatment": 0.006}
SAME_QUALITY = {"control": 0.8, "treatment": 0.8}


def _row(report, key):
    return next(row for row in report.rows if row.key == key)


def test_every_call_and_score_is_rolled_up_exactly_once(running_experiment):
    calls = make_calls(running_experiment, users=120, calls_per_user=3, costs=COSTS, quality=SAME_QUALITY)
    folded = rollups_refresh()
    assert folded["calls"] == len(calls)
    assert folded["scores"] == sum(c.status == "ok" for c in calls)
    assert rollups_refresh() == {"calls": 0, "scores": 0}
    assert sum(UserAggregate.objects.values_list("calls", flat=True)) == len(calls)
    assert not Call.objects.filter(rolled_up=False).exists()


def test_the_cost_cut_is_significant_and_the_quality_change_is_not(running_experiment):
    make_calls(running_experiment, users=400, calls_per_user=3, costs=COSTS, quality=SAME_QUALITY)
    rollups_refresh()
    report = experiment_report(experiment=running_experiment)
    cost, quality = _row(report, "cost"), _row(report, "quality:recorded_quality")
    assert cost.significant and cost.direction == "better"
    assert cost.relative.estimate == pytest.approx(-0.7, abs=0.05)
    assert not quality.significant and quality.guardrail == "pass"
    assert quality.absolute.ci_low < 0 < quality.absolute.ci_high
    assert re.match(r"treatment cuts cost per call by (6[5-9]|7[0-5])% \[\d+%, \d+%\]", report.verdict[0])
    assert (
        "the quality (recorded_quality) change" in report.verdict[0]
        and "is not significant" in report.verdict[0]
    )


def test_the_report_matches_the_engine_on_per_user_sums_taken_from_the_calls(running_experiment):
    make_calls(running_experiment, users=200, calls_per_user=2, costs=COSTS, quality=SAME_QUALITY)
    rollups_refresh()
    per_user: dict[tuple, list[float]] = {}
    for variant, user, cost in Call.objects.filter(status__in=["ok", "error"]).values_list(
        "variant", "user_hash", "cost"
    ):
        totals = per_user.setdefault((variant, user), [0.0, 0])
        totals[0] += float(cost)
        totals[1] += 1
    stat = {
        v: RatioStat.from_values([tuple(t) for (var, _), t in per_user.items() if var == v])
        for v in ("control", "treatment")
    }
    tuning = 2 * running_experiment.min_sample_per_variant  # the planned size of a pair of arms
    expected = sequential_test(stat["control"], stat["treatment"], alpha=0.05, relative=True, tuning=tuning)
    row = _row(experiment_report(experiment=running_experiment), "cost")
    assert row.relative.estimate == pytest.approx(expected.estimate, rel=1e-9)
    assert row.relative.ci_low == pytest.approx(expected.ci_low, rel=1e-9)


def test_building_the_report_never_reads_the_call_table(running_experiment):
    make_calls(running_experiment, users=50, calls_per_user=2, costs=COSTS, quality=SAME_QUALITY)
    rollups_refresh()
    with CaptureQueriesContext(connection) as queries:
        experiment_report(experiment=running_experiment)
    assert queries.captured_queries
    assert not [q for q in queries.captured_queries if "routing_call" in q["sql"]]


def test_a_lopsided_split_is_flagged_as_a_sample_ratio_mismatch(running_experiment):
    make_calls(
        running_experiment,
        users=600,
        calls_per_user=1,
        costs=COSTS,
        quality=SAME_QUALITY,
        weights=(0.65, 0.35),
    )
    rollups_refresh()
    report = experiment_report(experiment=running_experiment)
    assert report.srm_mismatch and report.srm_p_value < 0.001
    assert any("Sample ratio mismatch" in line for line in report.verdict)


def test_a_quality_drop_fails_the_guardrail(running_experiment):
    make_calls(
        running_experiment,
        users=400,
        calls_per_user=2,
        costs=COSTS,
        quality={"control": 0.85, "treatment": 0.6},
    )
    rollups_refresh()
    report = experiment_report(experiment=running_experiment)
    quality = _row(report, "quality:recorded_quality")
    assert quality.guardrail == "fail" and quality.direction == "worse"
    assert any("fails its guardrails" in line for line in report.verdict)


def test_latency_percentiles_come_from_the_histogram():
    counts = {0: 10, 20: 80, 40: 10}  # 10 under 1.05 ms, 80 near 2.65 ms, 10 near 7 ms
    p50 = histogram_percentile(counts, 0.5)
    assert 1.05**20 <= p50 <= 1.05**21
    assert histogram_percentile(counts, 0.99) >= 1.05**40
    assert histogram_percentile({}, 0.5) is None


def _per_user_stats(metric_column: str = "cost") -> dict[str, RatioStat]:
    per_user: dict[tuple, list[float]] = {}
    for variant, user, value in Call.objects.filter(status__in=["ok", "error"]).values_list(
        "variant", "user_hash", metric_column
    ):
        totals = per_user.setdefault((variant, user), [0.0, 0])
        totals[0] += float(value or 0)
        totals[1] += 1
    return {
        v: RatioStat.from_values([tuple(t) for (var, _), t in per_user.items() if var == v])
        for v in ("control", "treatment")
    }


def test_the_bayesian_engine_reports_chance_to_win_risk_and_a_credible_interval(
    running_experiment, client, staff_user
):
    from analytics.stats import bayesian_test
    from experiments.models import Experiment

    Experiment.objects.filter(id=running_experiment.id).update(engine="bayesian")
    running_experiment.refresh_from_db()
    make_calls(running_experiment, users=200, calls_per_user=2, costs=COSTS, quality=SAME_QUALITY)
    rollups_refresh()
    stat = _per_user_stats()

    report = experiment_report(experiment=running_experiment)
    cost = _row(report, "cost")
    expected = bayesian_test(stat["control"], stat["treatment"], relative=False, lower_is_better=True)
    assert report.engine == "bayesian" and cost.test == "bayesian"
    assert cost.chance_to_win == pytest.approx(expected.chance_to_win, rel=1e-9) and cost.chance_to_win > 0.99
    assert cost.risk == pytest.approx(expected.risk, rel=1e-9, abs=1e-15)
    assert cost.absolute.ci_low == pytest.approx(expected.ci_low, rel=1e-9)
    assert cost.significant and cost.direction == "better"

    client.force_login(staff_user)
    page = client.get(f"/dashboard/experiments/{running_experiment.id}/").content.decode()
    assert "chance to win" in page and f"{cost.chance_to_win:.1%}" in page


def test_capping_winsorises_each_users_cost_at_the_percentile_of_all_users(running_experiment):
    import numpy as np

    from analytics.stats import sequential_test
    from experiments.models import Experiment

    make_calls(running_experiment, users=200, calls_per_user=2, costs=COSTS, quality=SAME_QUALITY)
    whale = Call.objects.filter(variant="treatment", status="ok").first()
    Call.objects.filter(id=whale.id).update(cost=1000)  # one user's runaway bill
    rollups_refresh()
    uncapped = _row(experiment_report(experiment=running_experiment), "cost")
    assert uncapped.treatment > 1  # the one user swamps the mean

    Experiment.objects.filter(id=running_experiment.id).update(capping_percentile=0.99)
    running_experiment.refresh_from_db()
    capped = _row(experiment_report(experiment=running_experiment), "cost")

    totals = {
        (row.variant, row.user_hash): (row.cost, row.calls)
        for row in UserAggregate.objects.filter(experiment_id=running_experiment.id)
    }
    cap = float(np.percentile([cost for cost, _ in totals.values()], 99))  # percentile_cont's interpolation
    stat = {
        v: RatioStat.from_values([(min(c, cap), n) for (var, _), (c, n) in totals.items() if var == v])
        for v in ("control", "treatment")
    }
    tuning = 2 * running_experiment.min_sample_per_variant
    expected = sequential_test(stat["control"], stat["treatment"], alpha=0.05, tuning=tuning)
    assert capped.treatment == pytest.approx(stat["treatment"].mean, rel=1e-9) and capped.treatment < 0.01
    assert capped.absolute.ci_low == pytest.approx(expected.ci_low, rel=1e-9)
    assert capped.significant and capped.direction == "better"


def test_latency_quantiles_are_tested_cluster_robust_from_per_user_histograms(running_experiment):
    import math

    from analytics.rollups import BUCKET_GROWTH, MAX_BUCKET, bucket_bounds
    from analytics.stats.quantile import histogram_quantile, quantile_estimate, quantile_test
    from experiments.models import Experiment

    Experiment.objects.filter(id=running_experiment.id).update(guardrail_metrics=["latency"], engine="fixed")
    running_experiment.refresh_from_db()
    make_calls(running_experiment, users=300, calls_per_user=3, costs=COSTS, quality=SAME_QUALITY)
    rollups_refresh()
    report = experiment_report(experiment=running_experiment)
    p99 = _row(report, "latency_p99")

    calls: dict[str, list[tuple[str, int]]] = {"control": [], "treatment": []}
    for variant, user, latency in Call.objects.filter(status="ok").values_list(
        "variant", "user_hash", "latency_ms"
    ):
        bucket = min(MAX_BUCKET, max(0, math.floor(math.log(max(latency, 1)) / math.log(BUCKET_GROWTH))))
        calls[variant].append((user, bucket))
    estimates = {}
    for variant, rows in calls.items():
        histogram: dict[int, int] = {}
        for _, bucket in rows:
            histogram[bucket] = histogram.get(bucket, 0) + 1
        point = histogram_quantile(histogram, 0.99, bucket_bounds)
        per_user: dict[str, list[float]] = {}
        for user, bucket in rows:
            below = (bucket < point.bucket) + point.fraction * (bucket == point.bucket)
            totals = per_user.setdefault(user, [0.0, 0.0])
            totals[0] += below
            totals[1] += 1
        stat = RatioStat.from_values([tuple(t) for t in per_user.values()])
        estimates[variant] = quantile_estimate(histogram, 0.99, stat, bucket_bounds)
    expected = quantile_test(estimates["control"], estimates["treatment"])
    assert p99.test == "quantile, z" and p99.unit == "ms"
    assert p99.absolute.estimate == pytest.approx(expected.estimate, rel=1e-9)
    assert p99.absolute.std_error == pytest.approx(expected.std_error, rel=1e-9)
    assert p99.significant and p99.direction == "better"  # the treatment's latencies are lower
    assert p99.guardrail == "pass"
    assert {"latency_p50", "latency_p95", "latency_p99"} <= {row.key for row in report.rows}


def test_cuped_adjusts_cost_by_each_users_pre_exposure_spend(running_experiment, client, staff_user):
    import random
    from datetime import timedelta
    from decimal import Decimal

    from analytics.stats import sequential_test
    from analytics.stats.cuped import CovariateSums, cuped_adjust
    from experiments.models import ExperimentPhase
    from tests.factories import CallFactory

    started = ExperimentPhase.objects.get(experiment=running_experiment, number=1).started_at
    calls = make_calls(running_experiment, users=300, calls_per_user=2, costs=COSTS, quality=SAME_QUALITY)
    spend: dict[str, float] = {}
    for call in calls:
        spend[call.user_hash] = spend.get(call.user_hash, 0.0) + float(call.cost)
    rng = random.Random(5)
    for (
        user,
        total,
    ) in spend.items():  # each user's spend in the week before, correlated with the experiment's
        for day in (2, 5):
            cost = round(total / 2 * rng.uniform(0.6, 1.4) + rng.uniform(0, 0.002), 8)
            CallFactory(
                route=running_experiment.route,
                user_hash=user,
                cost=Decimal(str(cost)),
                started_at=started - timedelta(days=day),
                rolled_up=True,
            )
    CallFactory(route=running_experiment.route, user_hash=calls[0].user_hash, cost=Decimal("9"),
                started_at=started - timedelta(days=30), rolled_up=True)  # fmt: skip
    rollups_refresh()

    rows = UserAggregate.objects.filter(experiment_id=running_experiment.id)
    assert all(row.pre_calls == 2 for row in rows)  # the call 30 days before is outside the window
    sums = {
        v: CovariateSums.from_values(
            [(r.cost, r.calls, r.pre_cost, r.pre_calls) for r in rows if r.variant == v]
        )
        for v in ("control", "treatment")
    }
    control, treatment = cuped_adjust(sums["control"], sums["treatment"])
    tuning = 2 * running_experiment.min_sample_per_variant
    expected = sequential_test(control, treatment, alpha=0.05, tuning=tuning)
    cost = _row(experiment_report(experiment=running_experiment), "cost")
    assert cost.variance_reduction == pytest.approx(control.variance_reduction, rel=1e-9)
    assert cost.variance_reduction > 0.3
    assert cost.absolute.estimate == pytest.approx(expected.estimate, rel=1e-9)
    assert cost.absolute.ci_low == pytest.approx(expected.ci_low, rel=1e-9)

    client.force_login(staff_user)
    page = client.get(f"/dashboard/experiments/{running_experiment.id}/").content.decode()
    assert f"CUPED: {cost.variance_reduction:.0%} less variance" in page

    from experiments.models import Experiment

    Experiment.objects.filter(id=running_experiment.id).update(cuped=False)
    running_experiment.refresh_from_db()
    assert _row(experiment_report(experiment=running_experiment), "cost").variance_reduction is None


def test_results_by_segment_have_their_own_rows_and_sample_ratio_check(
    running_experiment, client, staff_user
):
    from analytics.stats import sample_ratio_mismatch

    calls = make_calls(running_experiment, users=400, calls_per_user=2, costs=COSTS, quality=SAME_QUALITY)
    for call in calls:
        number = int(call.user_hash.rsplit("-", 1)[1])
        metadata = {
            "feature": "faq" if number % 2 else "code",
            "user_tier": "pro" if number % 3 == 0 else "free",
        }
        if call.variant == "control" and number % 5 == 0:
            metadata["feature"] = "<b>beta</b>"  # only control users: a lopsided segment
        Call.objects.filter(id=call.id).update(metadata=metadata)
    rollups_refresh()

    report = experiment_report(experiment=running_experiment)
    segments = {(s.key, s.value): s for s in report.segments}
    assert {("feature", "faq"), ("feature", "code"), ("user_tier", "pro"), ("user_tier", "free")} <= set(
        segments
    )
    faq = segments[("feature", "faq")]
    assert faq.users == {
        v: len({c.user_hash for c in calls if c.variant == v and (_feature(c) == "faq")})
        for v in ("control", "treatment")
    }
    assert faq.srm_p_value == pytest.approx(
        sample_ratio_mismatch(list(faq.users.values()), [0.5, 0.5]).p_value
    )
    cost = next(row for row in faq.rows if row.key == "cost")
    assert cost.significant and cost.direction == "better"
    beta = segments[("feature", "<b>beta</b>")]
    assert beta.users["treatment"] == 0 and beta.srm_mismatch

    client.force_login(staff_user)
    page = client.get(f"/dashboard/experiments/{running_experiment.id}/").content.decode()
    assert 'id="segment-table"' in page and "feature = faq" in page
    assert "&lt;b&gt;beta&lt;/b&gt;" in page and "<b>beta</b>" not in page


def _number(call) -> int:
    return int(call.user_hash.rsplit("-", 1)[1])


def _feature(call) -> str:
    """faq or code by user; a fifth of the control's users on a beta only they get: a lopsided segment."""
    if call.variant == "control" and _number(call) % 5 == 0:
        return "<b>beta</b>"
    return "faq" if _number(call) % 2 else "code"


def test_time_to_first_token_quantiles_are_tested_where_calls_stream(running_experiment):
    from django.db.models import F

    from analytics.reports import report_family_size

    make_calls(running_experiment, users=300, calls_per_user=3, costs=COSTS, quality=SAME_QUALITY)
    family = report_family_size(running_experiment.route)
    Call.objects.filter(status="ok").update(ttft_ms=F("latency_ms") * 0.25, stream=True)
    rollups_refresh()
    report = experiment_report(experiment=running_experiment)
    ttft, latency = _row(report, "ttft_p99"), _row(report, "latency_p99")
    # the same calls a quarter as long: the same buckets, shifted, so the same verdict on a quarter scale
    assert ttft.label == "time to first token p99" and ttft.unit == "ms"
    assert ttft.control == pytest.approx(latency.control / 4, rel=0.06)
    assert ttft.significant and ttft.direction == "better"
    assert report_family_size(running_experiment.route) == family + 3  # the plan counts them once streamed


def _loops(plan: dict) -> list[tuple[str, int]]:
    """(node type, actual loops) of every node of an EXPLAIN (ANALYZE, FORMAT JSON) plan."""
    nodes = [(plan["Node Type"], plan["Actual Loops"])]
    for child in plan.get("Plans", []):
        nodes += _loops(child)
    return nodes


def test_the_capping_percentiles_are_computed_once_not_once_per_user(running_experiment):
    """With the roll-up table's statistics stale (as right after a roll-up), the planner once ran the
    percentile aggregate inside a nested loop, once per user: 39 s for 10,000 users (bench/report_time.py)."""
    make_calls(running_experiment, users=400, calls_per_user=2, costs=COSTS, quality=SAME_QUALITY)
    rollups_refresh()
    sql = reports.USER_SUMS.format(columns=reports._sum_columns(capped=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + sql,
            [running_experiment.id, running_experiment.phase, 0.99, 0.99],
        )
        plan = cursor.fetchone()[0][0]["Plan"]
    aggregates = [loops for node, loops in _loops(plan) if node == "Aggregate"]
    assert aggregates and max(aggregates) == 1, _loops(plan)
