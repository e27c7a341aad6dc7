"""What every decision shares: dropping models that cannot serve the request, and the fallback chain."""

import subprocess
import sys
from pathlib import Path

import pytest

import routing.policies
from routing.policies import NoEligibleModel, compile_policy, unfit_reason
from tests.routing.policies.catalog import ALL, BY_KEY, CHEAP, CHEAP_8K, MID, PREMIUM, context, request


def always(model, **extra):
    """A rules policy that always prefers `model` and names every catalogue model (in rules that never
    match), so the whole catalogue may serve as its fallbacks."""
    others = [{"when": {"feature": ["never"]}, "model": c.key} for c in ALL if c.key != model]
    return compile_policy(
        {"kind": "rules", "rules": [{"when": {}, "model": model}, *others], "default": model, **extra}
    )


def test_fallbacks_and_escalations_never_leave_the_models_the_policy_names():
    two = compile_policy(
        {"kind": "rules", "rules": [{"when": {}, "model": "sim/cheap-8k"}], "default": "sim/mid"}
    )

    decision = two.decide(request(), context())
    assert (decision.model, decision.fallbacks) == ("sim/cheap-8k", ("sim/mid",))
    assert decision.trace[-1] == "model sim/cheap-8k; fallbacks (models the policy names): sim/mid"


def test_a_model_the_route_allows_follows_the_policys_fallbacks_and_the_trace_says_which_is_which():
    two = compile_policy(
        {"kind": "rules", "rules": [{"when": {}, "model": "sim/cheap-8k"}], "default": "sim/mid"}
    )

    decision = two.decide(request(), context(allowed_fallbacks=("sim/premium", "sim/mid")))

    assert (decision.model, decision.fallbacks) == ("sim/cheap-8k", ("sim/mid", "sim/premium"))
    assert decision.trace[-1] == (
        "model sim/cheap-8k; fallbacks (models the policy names): sim/mid;"
        " then (models the route allows): sim/premium"
    )


def test_a_model_the_route_allows_that_cannot_serve_the_request_is_left_out_with_the_reason():
    one = compile_policy({"kind": "rules", "rules": [], "default": "sim/mid"})

    decision = one.decide(
        request("long", input_tokens=10_000), context(allowed_fallbacks=("sim/cheap-8k", "sim/cheap"))
    )

    assert decision.fallbacks == ("sim/cheap",)
    assert "the route allows sim/cheap-8k, which cannot serve: context window 8,192" in "\n".join(
        decision.trace
    )


def test_a_cascade_keeps_its_chain_and_adds_the_models_the_route_allows_after_it():
    cascade = compile_policy({"kind": "cascade", "chain": ["sim/cheap", "sim/mid"]})

    decision = cascade.decide(request(), context(allowed_fallbacks=("sim/premium",)))

    assert decision.cascade.chain == ("sim/cheap", "sim/mid")
    assert decision.fallbacks == ("sim/mid", "sim/premium")


def test_a_model_whose_context_window_is_too_small_is_dropped_with_the_reason():
    decision = always("sim/cheap-8k").decide(request("long", input_tokens=10_000), context())

    assert decision.model != "sim/cheap-8k"
    assert "dropped: sim/cheap-8k (context window 8,192 < 10,000 tokens needed)" in decision.trace[0]


def test_requested_output_tokens_count_against_the_context_window():
    fits_alone = request("x", input_tokens=7_000)
    with_output = request("x", input_tokens=7_000, max_output_tokens=2_000)

    assert unfit_reason(CHEAP_8K, fits_alone) is None
    assert unfit_reason(CHEAP_8K, with_output) == "context window 8,192 < 9,000 tokens needed"


def test_a_model_whose_output_limit_is_below_the_requested_output_cannot_serve():
    assert "max output 4,096 < 6,000" in unfit_reason(CHEAP_8K, request("x", max_output_tokens=6_000))


def test_models_without_vision_are_dropped_for_requests_with_images():
    decision = always("sim/cheap-8k").decide(request("what is this?", has_images=True), context())

    assert BY_KEY[decision.model].vision
    assert all(BY_KEY[key].vision for key in decision.fallbacks)
    assert "sim/cheap-8k (no vision, request has images)" in decision.trace[0]


def test_models_without_tools_are_dropped_when_the_request_needs_tools():
    decision = always("sim/cheap-8k").decide(request("call the weather tool", needs_tools=True), context())

    assert all(BY_KEY[key].tools for key in (decision.model, *decision.fallbacks))


def test_fallbacks_list_same_tier_alternatives_before_higher_tiers_cheapest_first():
    decision = always("sim/cheap-8k", max_fallbacks=10).decide(request(), context())

    assert decision.fallbacks == ("sim/cheap", "sim/mid-32k", "sim/mid", "sim/premium-16k", "sim/premium")


def test_fallbacks_never_step_down_to_a_cheaper_tier():
    decision = always("sim/mid", max_fallbacks=10).decide(request(), context())

    assert decision.fallbacks == ("sim/mid-32k", "sim/premium-16k", "sim/premium")


def test_fallbacks_never_include_a_model_that_cannot_fit_the_request():
    decision = always("sim/cheap", max_fallbacks=10).decide(request("doc", input_tokens=20_000), context())

    assert decision.fallbacks == ("sim/mid-32k", "sim/mid", "sim/premium")
    assert all(BY_KEY[key].context_window >= 20_000 for key in decision.fallbacks)


def test_a_policy_s_own_fallbacks_come_before_the_generic_chain():
    policy = compile_policy(
        {
            "kind": "rules",
            "rules": [{"when": {"feature": ["never"]}, "model": "sim/cheap-8k"}],
            "default": "sim/cheap",
            "default_fallbacks": ["sim/premium"],
        }
    )

    assert policy.decide(request(), context()).fallbacks == ("sim/premium", "sim/cheap-8k")


def test_max_fallbacks_caps_the_chain():
    assert always("sim/cheap", max_fallbacks=2).decide(request(), context()).fallbacks == (
        "sim/cheap-8k",
        "sim/mid-32k",
    )


def test_the_default_chain_holds_three_fallbacks():
    assert len(always("sim/cheap").decide(request(), context()).fallbacks) == 3


def test_when_no_preferred_model_fits_the_cheapest_model_at_its_tier_or_above_serves():
    decision = always("sim/cheap-8k").decide(request("doc", input_tokens=50_000), context())

    assert decision.model == "sim/cheap"
    assert "skipped sim/cheap-8k: context window 8,192 < 50,000 tokens needed" in decision.trace
    assert "none of the policy's first choices fit; next in line: sim/cheap (cheap)" in decision.trace


def test_when_nothing_at_the_intended_tier_or_above_fits_the_nearest_lower_tier_serves():
    only_premium_16k = (CHEAP, MID, BY_KEY["sim/premium-16k"])
    decision = always("sim/premium-16k").decide(request("doc", input_tokens=100_000), context())
    assert decision.model == "sim/premium"

    decision = always("sim/premium-16k").decide(
        request("doc", input_tokens=100_000), context(candidates=only_premium_16k)
    )
    assert decision.model == "sim/mid"
    assert any("fell back to sim/mid (mid)" in line for line in decision.trace)


def test_a_preferred_key_missing_from_the_candidates_is_skipped_with_a_trace_line():
    decision = always("sim/retired").decide(request(), context())

    assert "skipped sim/retired: not among the candidates" in decision.trace
    assert decision.model == "sim/cheap-8k"


def test_no_eligible_model_raises_with_every_reason():
    with pytest.raises(NoEligibleModel) as caught:
        always("sim/cheap").decide(request("huge", input_tokens=500_000), context())

    assert "no candidate can serve this request (500,000 input tokens)" in str(caught.value)
    assert set(caught.value.reasons) == {candidate.key for candidate in ALL}


def test_the_trace_ends_with_the_model_and_its_fallbacks():
    decision = always("sim/premium").decide(request(), context(candidates=(CHEAP, PREMIUM)))

    assert decision.trace[-1] == "model sim/premium; fallbacks (models the policy names): none"
    assert decision.policy_kind == "rules"


def test_classifier_prompt_is_refused_by_policies_that_do_not_classify():
    policy = always("sim/cheap")

    assert policy.needs_classification is False
    assert policy.classifier_model is None
    with pytest.raises(TypeError, match="needs_classification"):
        policy.classifier_prompt(request())


def test_the_engine_package_imports_without_django():
    probe = (
        "import sys, routing.policies; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"


def test_no_engine_module_mentions_django_or_io_libraries():
    package = Path(routing.policies.__file__).parent
    forbidden = ("django", "httpx", "requests", "redis", "psycopg", "socket")
    for module in package.glob("*.py"):
        imports = [line for line in module.read_text().splitlines() if line.startswith(("import ", "from "))]
        assert not [line for line in imports if any(name in line for name in forbidden)], module.name
