"""The policies that read live state, decided through POST /api/v1/route: the latency window and the
route's spend come from Redis, the embeddings from the local MiniLM model."""

import json

import pytest
from asgiref.sync import async_to_sync

from routing.gateway import live
from tests.factories import publish_live

pytestmark = pytest.mark.django_db

MINI, MID, TOP = "simulator/gpt-4o-mini", "simulator/gpt-4o", "simulator/claude-opus-4-1"


def _model(client, live_route, text: str) -> str:
    body = {"messages": [{"role": "user", "content": text}]}
    response = client.post(
        "/api/v1/route", data=json.dumps(body), content_type="application/json", **live_route.auth
    )
    assert response.status_code == 200, response.content
    return response.json()["model"]


def _observe(model: str, latency_ms: float, calls: int = 25) -> None:
    for _ in range(calls):
        async_to_sync(live.record_outcome)(model, latency_ms, True)


def test_latency_aware_follows_the_latency_window_the_executor_keeps_in_redis(client, live_route):
    publish_live(
        live_route.route, "fastest", {"kind": "latency_aware", "models": [MINI, MID], "objective": "p95"}
    )
    _observe(MINI, 3000)
    _observe(MID, 200)
    assert _model(client, live_route, "Hello") == MID
    _observe(MINI, 50, calls=200)  # the window keeps the latest outcomes: MINI is now the fast one
    _observe(MID, 4000, calls=200)
    live.reset_cache()
    assert _model(client, live_route, "Hello") == MINI


def test_cost_aware_falls_to_the_cheapest_model_once_the_route_has_spent_its_budget(client, live_route):
    spec = {
        "kind": "cost_aware",
        "min_quality": 0.8,
        "quality": {MINI: 0.7, MID: 0.86, TOP: 0.95},
        "expected_output_tokens": 300,
    }
    publish_live(live_route.route, "within-budget", spec)
    assert _model(client, live_route, "Summarise this contract.") == MID
    budget = float(live_route.route.daily_budget_usd)
    async_to_sync(live.record_spend)(live_route.route.id, None, budget - 0.0001, 0)
    live.reset_cache()
    assert _model(client, live_route, "Summarise this contract.") == MINI


def test_semantic_routing_sends_a_refund_question_to_billing_and_the_rest_to_the_default(client, live_route):
    spec = {
        "kind": "semantic",
        "routes": [
            {
                "name": "billing",
                "model": MINI,
                "utterances": ["I want a refund", "My invoice is wrong", "Cancel my subscription"],
            }
        ],
        "threshold": 0.5,
        "default": TOP,
    }
    publish_live(live_route.route, "by-meaning", spec)
    assert _model(client, live_route, "Can I get my money back for last month's invoice?") == MINI
    assert _model(client, live_route, "Prove that there are infinitely many primes.") == TOP
