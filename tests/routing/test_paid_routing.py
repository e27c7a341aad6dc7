"""Routing that pays to decide: an llm_router's classifier and a cascade's judge are part of the call's cost.

The simulator counts the tokens each model served; priced at the registry's list prices they must add up
to the cost on the call row, or an experiment would credit a router with savings it did not make.
"""

import json
from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest

from routing.gateway.recorder import calls_flush
from routing.models import Call, Model
from tests.factories import publish_live

pytestmark = pytest.mark.django_db

CAPITAL = [{"role": "user", "content": "What is the capital of France?"}]
LLM_ROUTER = {
    "kind": "llm_router",
    "classifier_model": "simulator/gpt-4o-mini",
    "tiers": {
        "SIMPLE": ["simulator/gpt-4o"],
        "MODERATE": ["simulator/gpt-4o"],
        "COMPLEX": ["simulator/claude-opus-4-1"],
    },
    "default_tier": "MODERATE",
}


def _post(client, live_route) -> dict:
    response = client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": CAPITAL}),
        content_type="application/json",
        **live_route.auth,
    )
    assert response.status_code == 200, response.content
    return response.json()


def _served_cost(live_route) -> tuple[Decimal, dict]:
    """What the simulator's models served, at the registry's prices per million tokens."""
    stats = httpx.get(f"{live_route.simulator.url}/_sim/stats").json()["models"]
    total = Decimal(0)
    for model in Model.objects.filter(provider__name="simulator"):
        served = stats.get(model.model_id, {})
        total += Decimal(served.get("prompt_tokens", 0)) * model.input_price_per_mtok / 1_000_000
        total += Decimal(served.get("completion_tokens", 0)) * model.output_price_per_mtok / 1_000_000
    return total, stats


def _cents_of_a_millionth(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.00000001"), rounding=ROUND_HALF_UP)


def test_an_llm_routers_classifier_call_is_in_the_calls_cost_and_tokens(client, live_route):
    publish_live(live_route.route, "llm-router", LLM_ROUTER)
    body = _post(client, live_route)
    calls_flush()
    call = Call.objects.get()
    expected, stats = _served_cost(live_route)
    assert stats["gpt-4o-mini"]["requests"] == 1  # the classification, paid like any call
    assert call.cost == _cents_of_a_millionth(expected) and call.cost > 0
    served_tokens = sum(m["prompt_tokens"] + m["completion_tokens"] for m in stats.values())
    assert call.input_tokens + call.output_tokens == served_tokens
    assert Decimal(body["routelab"]["cost_usd"]) == call.cost


def test_a_cascades_judge_calls_are_in_the_calls_cost(client, live_route):
    publish_live(
        live_route.route,
        "judged-cascade",
        {
            "kind": "cascade",
            "chain": ["simulator/gpt-4o-mini", "simulator/gpt-4o"],
            "threshold": 0.7,
            "check": "judge",
            "judge_model": "simulator/claude-opus-4-1",
        },
    )
    _post(client, live_route)
    calls_flush()
    call = Call.objects.get()
    expected, stats = _served_cost(live_route)
    assert stats["claude-opus-4-1"]["requests"] >= 1  # at least one judgement
    assert call.cost == _cents_of_a_millionth(expected)
    assert call.escalations == stats["gpt-4o"]["requests"]  # judgements are not escalations


def test_a_decision_only_request_records_what_its_classifier_cost(client, live_route):
    publish_live(live_route.route, "llm-router", LLM_ROUTER)
    response = client.post(
        "/api/v1/route", data={"messages": CAPITAL}, content_type="application/json", **live_route.auth
    )
    assert response.status_code == 200, response.content
    calls_flush()
    call = Call.objects.get()
    expected, _ = _served_cost(live_route)
    assert call.status == "decided" and call.cost == _cents_of_a_millionth(expected) > 0


def test_a_queued_job_runs_the_decision_it_answered_with_and_classifies_once(client, live_route):
    from routing.gateway.jobs import job_execute

    publish_live(live_route.route, "llm-router", LLM_ROUTER)
    response = client.post(
        "/api/v1/route",
        data={"messages": CAPITAL, "execute": True},
        content_type="application/json",
        **live_route.auth,
    )
    assert response.status_code == 202, response.content
    queued = response.json()
    assert job_execute(job_id=queued["job_id"], final_attempt=False).status == "succeeded"
    calls_flush()
    call = Call.objects.get()
    expected, stats = _served_cost(live_route)
    assert stats["gpt-4o-mini"]["requests"] == 1  # classified when queued, not again in the worker
    assert call.model.key == queued["model"] and call.source == "job"
    assert call.cost == _cents_of_a_millionth(expected)


def test_a_decision_survives_its_trip_through_json_cascade_plan_included():
    from routing.policies.types import CascadePlan, Decision

    decision = Decision(
        model="a/cheap",
        fallbacks=("a/mid",),
        trace=("why",),
        policy_kind="cascade",
        tier="cheap",
        cascade=CascadePlan(chain=("a/cheap", "a/mid"), threshold=0.7, check="judge", judge_model="a/top"),
        score=0.5,
    )
    assert Decision.from_json(json.loads(json.dumps(decision.to_json()))) == decision
