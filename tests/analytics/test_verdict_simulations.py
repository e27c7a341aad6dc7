"""Simulated experiments through the report's own comparison (`analytics.comparison.compare`, the code
`experiment_report` runs on its roll-ups), with fixed seeds: the plan's size gives the power it
promises, A/A experiments with three treatments keep the family-wise error at alpha at one look and at
daily looks, and rare events in one arm fail a guardrail.

Each simulated user makes 1 + Poisson(2) calls; a call costs lognormal(-6, 1) dollars, takes
lognormal(6, 0.5) ms, fails with probability 1% and falls back with 2%. Per arm, the four per-call
metrics of the report are ratio metrics over users, built from per-user sums as the roll-ups hold them;
its three latency quantiles are estimated from the calls' latency buckets, cluster-robust by user.
"""

from __future__ import annotations

import numpy as np
import pytest

from analytics.comparison import Design, MetricInput, compare
from analytics.reports import CALL_METRICS, LATENCY_QUANTILES
from analytics.rollups import BUCKET_GROWTH, MAX_BUCKET, bucket_bounds
from analytics.stats import RatioStat
from analytics.stats.quantile import histogram_quantile, quantile_estimate
from experiments.power import engine_power, engine_sample_size, ratio_per_user

ERROR_RATE, FALLBACK_RATE = 0.01, 0.02


def ratio(numerators: np.ndarray, denominators: np.ndarray) -> RatioStat:
    """The roll-up's sums over users of one (numerator, denominator) pair."""
    return RatioStat(
        len(numerators),
        float(numerators.sum()),
        float((numerators**2).sum()),
        float(denominators.sum()),
        float((denominators**2).sum()),
        float((numerators * denominators).sum()),
    )


def quantiles(buckets: np.ndarray, owner: np.ndarray, users: int) -> dict:
    """The report's latency quantile estimates of one arm from its successful calls' buckets."""
    values, counts = np.unique(buckets, return_counts=True)
    histogram = dict(zip(values.tolist(), counts.tolist(), strict=True))
    n = np.bincount(owner, minlength=users).astype(float)
    out = {}
    for key, _, _, q in LATENCY_QUANTILES:
        point = histogram_quantile(histogram, q, bucket_bounds)
        below = np.bincount(
            owner,
            weights=(buckets < point.bucket) + point.fraction * (buckets == point.bucket),
            minlength=users,
        )
        stat = RatioStat(users, below.sum(), (below**2).sum(), n.sum(), (n**2).sum(), (below * n).sum())
        out[key] = quantile_estimate(histogram, q, stat, bucket_bounds)
    return out


def arm(rng: np.random.Generator, users: int, cost_lift: float = 0.0, raw: bool = False) -> dict:
    """One arm's four per-call metrics, each a RatioStat over users, and its latency quantiles (with
    `raw`, the successful calls' buckets and owners instead, to pool days)."""
    calls = 1 + rng.poisson(2, users)
    total = int(calls.sum())
    owner = np.repeat(np.arange(users), calls)
    errors = rng.random(total) < ERROR_RATE
    cost = np.where(errors, 0.0, rng.lognormal(-6, 1, total) * (1 + cost_lift))
    latency = np.where(errors, 0.0, rng.lognormal(6, 0.5, total))
    fallbacks = rng.random(total) < FALLBACK_RATE

    def per_user(values):
        return np.bincount(owner, weights=values, minlength=users)

    counted = calls.astype(float)
    ok = per_user(~errors)
    buckets = np.clip(np.floor(np.log(np.maximum(latency, 1)) / np.log(BUCKET_GROWTH)), 0, MAX_BUCKET)[
        ~errors
    ]
    stats = {
        "cost": ratio(per_user(cost), counted),
        "latency": ratio(per_user(latency), ok),
        "error_rate": ratio(per_user(errors), counted),
        "fallback_rate": ratio(per_user(fallbacks), counted),
    }
    if raw:
        return {**stats, "buckets": buckets, "owner": owner[~errors], "users": users}
    return {**stats, **quantiles(buckets, owner[~errors], users)}


def inputs(control: dict, treatment: dict) -> list[MetricInput]:
    """The report's metric inputs, as `analytics.reports._metrics` builds them from roll-ups."""
    out = []
    for key, (label, _, _, lower, group, unit) in CALL_METRICS.items():
        c, t = control[key], treatment[key]
        events = None
        if unit == "rate":
            events = (
                round(c.numerator_sum),
                round(c.denominator_sum),
                round(t.numerator_sum),
                round(t.denominator_sum),
            )
        out.append(MetricInput(key, label, unit, lower, group, c, t, events))
    for key, label, _, _ in LATENCY_QUANTILES:
        out.append(MetricInput(key, label, "ms", True, "latency", control[key], treatment[key]))
    return out


def pilot(rng: np.random.Generator, users: int = 20_000) -> tuple[float, float]:
    """A route's history as the plan reads it: per user, the cost and the calls; its ratio and s.d."""
    calls = 1 + rng.poisson(2, users)
    owner = np.repeat(np.arange(users), calls)
    errors = rng.random(int(calls.sum())) < ERROR_RATE
    cost = np.where(errors, 0.0, rng.lognormal(-6, 1, len(owner)))
    per_user = np.bincount(owner, weights=cost, minlength=users)
    return ratio_per_user(list(zip(per_user.tolist(), calls.astype(float).tolist(), strict=True)))


@pytest.mark.parametrize("engine", ["sequential", "fixed"])
def test_at_the_planned_size_a_5_percent_cost_lift_is_found_about_80_percent_of_the_time(engine):
    rng = np.random.default_rng(20261203)
    # one treatment; the report's four per-call metrics and three latency quantiles, Holm across them
    comparisons = len(CALL_METRICS) + len(LATENCY_QUANTILES)
    mean, sd = pilot(rng)
    plan = {
        "sd": sd,
        "delta": 0.05 * mean,
        "alpha": 0.05,
        "comparisons": comparisons,
        "treatment_sd": 1.05 * sd,
    }
    n = engine_sample_size(engine=engine, **plan)
    design = Design(engine=engine, tuning=2.0 * n)
    runs = 1000
    found = 0
    for _ in range(runs):
        rows = compare([("treatment", inputs(arm(rng, n), arm(rng, n, cost_lift=0.05)))], design)
        cost = next(row for row in rows if row.key == "cost")
        found += cost.significant and cost.direction == "worse"
    power = found / runs
    print(f"{engine}: {n} users per arm, simulated power {power:.3f}")
    assert 0.75 <= power <= 0.85
    assert engine_power(n_per_variant=n, engine=engine, **plan) == pytest.approx(0.8, abs=0.001)
    if engine == "sequential":  # the always-valid boundary needs more users than one fixed look
        assert n > 1.2 * engine_sample_size(engine="fixed", **plan)


def _any_significant(arms: list[dict], design: Design) -> bool:
    control, treatments = arms[0], arms[1:]
    comparisons = [(f"t{i}", inputs(control, t)) for i, t in enumerate(treatments)]
    return any(row.significant for row in compare(comparisons, design))


def test_an_aa_test_with_three_treatments_flags_any_row_at_most_5_percent_of_the_time_at_one_look():
    rng = np.random.default_rng(7)
    # at 20,000 users per arm; at 5,000 the normal approximations are a little optimistic this far in the
    # tails (Holm tests the smallest of 21 p-values at alpha / 21) and 5.6% of experiments flag a row
    runs, users = 1000, 20_000
    flagged = sum(
        _any_significant([arm(rng, users) for _ in range(4)], Design(engine="fixed")) for _ in range(runs)
    )
    print(f"fixed, one look: {flagged / runs:.3f} of A/A experiments flag a row")
    assert flagged / runs <= 0.05


def test_an_aa_test_with_three_treatments_looked_at_daily_for_28_days_stays_within_5_percent():
    rng = np.random.default_rng(28)
    runs, days, per_day = 400, 28, 60
    design = Design(engine="sequential", tuning=2.0 * days * per_day)
    flagged = 0
    for _ in range(runs):
        totals = [dict.fromkeys(CALL_METRICS, RatioStat()) for _ in range(4)]
        pooled = [([], []) for _ in range(4)]  # per arm: each day's buckets and owners, users numbered on
        for day in range(days):
            looks = []
            for at in range(4):
                new = arm(rng, per_day, raw=True)
                totals[at] = {key: totals[at][key] + new[key] for key in CALL_METRICS}
                pooled[at][0].append(new["buckets"])
                pooled[at][1].append(new["owner"] + day * per_day)
                buckets, owner = np.concatenate(pooled[at][0]), np.concatenate(pooled[at][1])
                looks.append({**totals[at], **quantiles(buckets, owner, (day + 1) * per_day)})
            if _any_significant(looks, design):
                flagged += 1
                break
    print(f"sequential, 28 daily looks: {flagged / runs:.3f} of A/A experiments flag a row")
    assert flagged / runs <= 0.05


def _errors_arm(users: int, calls_per_user: int, errors: int) -> RatioStat:
    """Users with equal calls; the errors spread over the first users, one per user at most."""
    flags = np.zeros(users)
    flags[:errors] = 1.0
    return ratio(flags, np.full(users, float(calls_per_user)))


def _error_row(control: RatioStat, treatment: RatioStat, margins=None):
    events = (
        round(control.numerator_sum),
        round(control.denominator_sum),
        round(treatment.numerator_sum),
        round(treatment.denominator_sum),
    )
    metric = MetricInput("error_rate", "error rate", "rate", True, "error_rate", control, treatment, events)
    design = Design(guardrails=frozenset({"error_rate"}), margins=margins or {})
    return compare([("treatment", [metric])], design)[0]


def test_zero_against_108_errors_in_about_10000_calls_per_arm_fails_the_error_rate_guardrail():
    row = _error_row(_errors_arm(2500, 4, 0), _errors_arm(2500, 4, 108))
    assert (row.test, row.guardrail, row.direction) == ("exact", "fail", "worse")
    assert row.p_adjusted < 1e-20

    same = _error_row(_errors_arm(2500, 4, 0), _errors_arm(2500, 4, 0))
    assert same.guardrail == "pass"  # no errors anywhere: nothing got worse
    few = _error_row(_errors_arm(2500, 4, 0), _errors_arm(2500, 4, 3))
    assert few.guardrail == "pass" and few.test == "exact"  # 0 against 3 is within chance


def test_a_margin_makes_a_guardrail_pass_only_once_non_inferiority_is_shown():
    small = _error_row(_errors_arm(200, 1, 20), _errors_arm(200, 1, 21), margins={"error_rate": 0.1})
    assert small.guardrail == "undecided"  # +5% +/- a lot: not shown within 10%
    large = _error_row(
        _errors_arm(200_000, 1, 20_000), _errors_arm(200_000, 1, 20_100), margins={"error_rate": 0.1}
    )
    assert large.guardrail == "pass"
    beyond = _error_row(
        _errors_arm(200_000, 1, 20_000), _errors_arm(200_000, 1, 26_000), margins={"error_rate": 0.1}
    )
    assert beyond.guardrail == "fail"
    tiny = _error_row(_errors_arm(1, 1, 0), _errors_arm(1, 1, 0), margins={"error_rate": 0.1})
    assert tiny.guardrail == "undecided"
