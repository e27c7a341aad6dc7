"""Live mode: each item's prompt goes through the routing engine and executor to real models (the simulator
in tests), and the answer is scored against the item's reference.

The calls take the live path's decision (`routing.gateway.decide`: live state, classifier, embedder) and
execution (`routing.gateway.execute.execute`: retries, fallbacks, breakers, cascades), but are not recorded as
calls of the route: an evaluation is not traffic. At most LIVE_ITEM_LIMIT items with a reference are
asked, in the dataset's order. An item whose call fails counts in `errors`, not in the quality.

Scoring is a plain normalised exact match (case, surrounding punctuation and whitespace ignored).
TODO: score with analytics.scorers (numeric_answer for GSM8K-style references) once `scorer_build` lands.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from asgiref.sync import async_to_sync

from experiments.evaluation.common import EvaluationError, Outcome, Progress, ProgressCallback, version_label
from experiments.models import DatasetItem, Evaluation
from routing.gateway.decide import decide, route_request_from_chat
from routing.gateway.errors import GatewayError
from routing.gateway.execute import ExecutionFailed, call_budget, execute
from routing.gateway.record import call_spend
from routing.gateway.snapshot import PolicyEntry, RouteEntry, RoutingSnapshot, policy_entry, snapshot_cache
from routing.models import PolicyVersion
from routing.providers.base import ChatRequest, ProviderError

LIVE_ITEM_LIMIT = 200
SCORER = "normalised exact match"
STRIPPED = " \t\n\r.,;:!?\"'`()[]{}"


@dataclass(frozen=True)
class Item:
    prompt: str
    reference: str


@dataclass(frozen=True)
class LiveAnswer:
    model: str = ""
    text: str = ""
    cost: float = 0.0
    escalations: int = 0
    error: str = ""


def normalised(text: str) -> str:
    return " ".join(text.casefold().split()).strip(STRIPPED)


def exact_match(answer: str, reference: str) -> float:
    """1 when answer and reference agree once normalised, else 0."""
    return float(normalised(answer) == normalised(reference))


def live_items(evaluation: Evaluation) -> list[Item]:
    items = (
        DatasetItem.objects.filter(dataset=evaluation.dataset)
        .exclude(reference="")
        .order_by("position")
        .values_list("prompt", "reference")[:LIVE_ITEM_LIMIT]
    )
    return [Item(prompt, reference) for prompt, reference in items]


async def _ask(snapshot: RoutingSnapshot, route: RouteEntry, policy: PolicyEntry, prompt: str) -> LiveAnswer:
    chat = ChatRequest(messages=({"role": "user", "content": prompt},))
    request = route_request_from_chat(chat, {})
    try:
        decision, overhead = await decide(snapshot, route, policy, request)
        execution = await execute(snapshot, decision, chat, request, call_budget(route))
    except (GatewayError, ExecutionFailed, ProviderError) as exc:
        return LiveAnswer(error=f"{type(exc).__name__}: {exc}")
    cost = float(call_spend(overhead, execution)["cost"])  # a classifier is paid too
    return LiveAnswer(execution.model.key, execution.result.text, cost, execution.escalations)


def _summary(version: PolicyVersion, items: list[Item], answers: list[LiveAnswer]) -> dict:
    answered = [(item, answer) for item, answer in zip(items, answers, strict=True) if not answer.error]
    scores = [exact_match(answer.text, item.reference) for item, answer in answered]
    models = Counter(answer.model for _, answer in answered)
    total_cost = math.fsum(answer.cost for answer in answers)
    return {
        "version_id": version.id,
        "label": version_label(version),
        "kind": version.kind,
        "items": len(items),
        "answered": len(answered),
        "errors": len(items) - len(answered),
        "quality": math.fsum(scores) / len(scores) if scores else None,
        "cost": total_cost / len(items),
        "total_cost": total_cost,
        "model_shares": {model: count / len(answered) for model, count in models.most_common()},
        "escalation_rate": sum(a.escalations > 0 for _, a in answered) / len(answered) if answered else None,
        "first_error": next((answer.error for answer in answers if answer.error), ""),
        "swept": False,
        "error": "",
    }


def _policy_live(version: PolicyVersion, items: list[Item], progress: Progress) -> dict:
    snapshot = snapshot_cache.get()
    route = snapshot.routes.get(version.policy.route.name)
    if route is None:
        progress.tick(len(items))
        head = {"version_id": version.id, "label": version_label(version), "kind": version.kind}
        return {
            **head,
            "swept": False,
            "error": f"route {version.policy.route.name!r} is not in the registry",
        }
    policy = policy_entry(version)
    answers = []
    for item in items:
        answers.append(async_to_sync(_ask)(snapshot, route, policy, item.prompt))
        progress.tick()
    return _summary(version, items, answers)


def live_run(
    evaluation: Evaluation, versions: list[PolicyVersion], on_progress: ProgressCallback | None = None
) -> Outcome:
    items = live_items(evaluation)
    if not items:
        raise EvaluationError(
            f"Dataset {evaluation.dataset.name!r} has no item with a reference answer to score answers by."
        )
    progress = Progress(evaluation.id, len(items) * len(versions), on_progress)
    policies = [_policy_live(version, items, progress) for version in versions]
    notes = [f"Live calls are not recorded as calls of their route. Answers scored by {SCORER}."]
    if len(items) == LIVE_ITEM_LIMIT:
        notes.append(f"Only the first {LIVE_ITEM_LIMIT} items with a reference were asked.")
    results = {
        "mode": Evaluation.Mode.LIVE.value,
        "dataset": {"name": evaluation.dataset.name, "items": len(items)},
        "scorer": SCORER,
        "policies": policies,
        "notes": notes,
    }
    return Outcome(results)
