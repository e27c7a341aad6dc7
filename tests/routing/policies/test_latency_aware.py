"""The `latency_aware` kind: the lowest live latency among models that succeed often enough."""

import pytest

from routing.policies import ModelStats, compile_policy
from tests.routing.policies.catalog import context, request, spec_error

MODELS = ["sim/cheap", "sim/mid", "sim/premium"]


def policy(**changes):
    return compile_policy({"kind": "latency_aware", "models": MODELS, **changes})


def stats(p50, p95, success=0.99, samples=500):
    return ModelStats(p50_ms=p50, p95_ms=p95, success_rate=success, samples=samples)


WARM = {
    "sim/cheap": stats(400, 2500),
    "sim/mid": stats(600, 900),
    "sim/premium": stats(1500, 3000),
}


def test_the_model_with_the_lowest_p50_serves_and_the_rest_follow_by_latency():
    decision = policy().decide(request(), context(stats=WARM))

    assert decision.model == "sim/cheap"
    assert decision.fallbacks == ("sim/mid", "sim/premium")


def test_the_p95_objective_ranks_by_tail_latency():
    assert policy(objective="p95").decide(request(), context(stats=WARM)).model == "sim/mid"


def test_a_model_below_the_success_rate_ranks_after_the_reliable_ones():
    flaky = WARM | {"sim/cheap": stats(100, 200, success=0.80)}

    decision = policy().decide(request(), context(stats=flaky))

    assert decision.model == "sim/mid"
    assert decision.fallbacks == ("sim/premium", "sim/cheap")


def test_a_model_over_the_latency_limit_ranks_after_the_ones_within_it():
    decision = policy(objective="p95", max_latency_ms=2000).decide(request(), context(stats=WARM))

    assert decision.model == "sim/mid"
    assert decision.fallbacks == ("sim/cheap", "sim/premium")


def test_the_trace_lists_the_numbers_used():
    trace = policy().decide(request(), context(stats=WARM)).trace

    assert trace[0] == (
        "sim/cheap p50 400ms, success 99.0% n=500; sim/mid p50 600ms, success 99.0% n=500;"
        " sim/premium p50 1500ms, success 99.0% n=500"
    )
    assert trace[1] == "fastest with success >= 95%: sim/cheap"


def test_a_cold_model_is_assumed_as_fast_as_the_fastest_and_explored_first():
    cold = WARM | {"sim/premium": stats(9000, 9000, samples=3)}

    decision = policy().decide(request(), context(stats=cold))

    assert decision.model == "sim/premium"
    assert "sim/premium cold (n=3), assumed 400ms" in decision.trace[0]


def test_a_model_with_no_stats_at_all_is_cold():
    decision = policy().decide(request(), context(stats={"sim/cheap": WARM["sim/cheap"]}))

    assert decision.model == "sim/mid"
    assert "sim/mid cold (n=0)" in decision.trace[0]


def test_a_configured_cold_latency_replaces_the_optimistic_guess():
    partial = {key: WARM[key] for key in ("sim/cheap", "sim/mid")}

    decision = policy(cold_latency_ms=800).decide(request(), context(stats=partial))

    assert decision.model == "sim/cheap"
    assert decision.fallbacks == ("sim/mid", "sim/premium")


def test_min_samples_sets_when_a_model_counts_as_warm():
    few = WARM | {"sim/premium": stats(50, 60, samples=10)}

    assert policy(min_samples=5).decide(request(), context(stats=few)).model == "sim/premium"


def test_with_no_reliable_model_the_most_reliable_serves_and_the_trace_says_so():
    bad = {
        key: stats(s.p50_ms, s.p95_ms, success=rate)
        for (key, s), rate in zip(WARM.items(), (0.5, 0.9, 0.7), strict=True)
    }

    decision = policy().decide(request(), context(stats=bad))

    assert decision.model == "sim/mid"
    assert decision.trace[1] == "no model has success >= 95%: most reliable first"


def test_models_that_cannot_fit_the_request_are_never_chosen():
    fast_small = WARM | {"sim/cheap": stats(10, 20)}
    decision = compile_policy({"kind": "latency_aware", "models": ["sim/cheap-8k", "sim/mid"]}).decide(
        request("doc", input_tokens=10_000), context(stats=fast_small)
    )

    assert (decision.model, decision.fallbacks) == ("sim/mid", ())


@pytest.mark.parametrize(
    ("changes", "path", "words"),
    [
        ({"objective": "p99"}, "objective", "must be one of: p50, p95"),
        ({"min_success_rate": 2}, "min_success_rate", "at most 1.0"),
        ({"models": []}, "models", "must not be empty"),
        ({"max_latency_ms": 0}, "max_latency_ms", "at least 1.0"),
        ({"min_samples": 0}, "min_samples", "at least 1"),
    ],
)
def test_a_bad_latency_aware_spec_is_reported_with_its_path(changes, path, words):
    error = spec_error({"kind": "latency_aware", "models": MODELS, **changes})

    assert error.path == path
    assert words in error.message
