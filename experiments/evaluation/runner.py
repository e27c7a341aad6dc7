"""Run an evaluation: claim it, load the dataset's rows, run each policy over them, save the results.

Recorded mode follows RouteLLM's method on a dataset of recorded answers and qualities, with the weak and
the strong model named by the person who starts the evaluation. For each policy version:

- its own operating point: each item decided by the policy with the two models as the only candidates;
- complexity: the policy's complexity score of each prompt is swept as a threshold, an item going to
  the strong model when score >= threshold;
- learned (two models): the predicted gain of the strong model is swept the same way;
- semantic: the nearest route's similarity is swept when its routes name one of the two models and its
  default the other (strong when similarity >= threshold, or below it when the routes name the weak one);
- cascade: the weak model's recorded answer is scored with `answer_confidence`, and the sweep escalates
  an item to the strong model when confidence < threshold, paying both calls when it does.

Every item counts, contaminated prompts included, as in RouteLLM's published accuracies; the figures
without the excluded items follow under `without_excluded`. Costs and prices: see `replay`.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from experiments.evaluation import frontier, metrics
from experiments.evaluation.common import (
    EvaluationAborted,
    EvaluationError,
    Outcome,
    Progress,
    ProgressCallback,
    curve_rows,
    version_label,
)
from experiments.evaluation.live import live_run
from experiments.evaluation.metrics import CurvePoint
from experiments.evaluation.replay import Replay, Row, replay_load
from experiments.models import Evaluation, EvaluationPoint, prompt_hash
from routing.learning.embedding_store import embeddings_get
from routing.learning.selectors import UnknownRouter, predictor_of, trained_router_get
from routing.models import PolicyVersion
from routing.policies import (
    LearnedPolicy,
    Policy,
    PolicyError,
    RouteRequest,
    RoutingContext,
    answer_confidence,
    compile_policy,
    estimate_tokens,
)
from routing.policies.embeddings import embed as embed_now
from routing.policies.semantic import MAX_QUERY_CHARS

logger = logging.getLogger(__name__)

RANDOM_SHARES = tuple(k / 20 for k in range(21))
RANDOM_REPEATS = 10
RANDOM_SEED = 0


# -- the run -------------------------------------------------------------------------------------------------


def evaluation_run(*, evaluation_id: int, on_progress: ProgressCallback | None = None) -> Evaluation | None:
    """Claim a queued evaluation, run it and store its results or its error; None if it was not queued."""
    claimed = Evaluation.objects.filter(id=evaluation_id, status=Evaluation.Status.QUEUED).update(
        status=Evaluation.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    evaluation = Evaluation.objects.select_related("dataset").get(id=evaluation_id)
    try:
        outcome = _outcome(evaluation, on_progress)
    except EvaluationAborted:
        logger.warning("evaluation %s stopped running under way; its work is dropped", evaluation_id)
        return None
    except EvaluationError as exc:
        _finish(evaluation_id, status=Evaluation.Status.FAILED, error=str(exc))
    except Exception as exc:  # any failure must end the run visibly failed, never stuck running
        logger.exception("evaluation %s failed", evaluation_id)
        _finish(evaluation_id, status=Evaluation.Status.FAILED, error=f"{type(exc).__name__}: {exc}")
    else:
        _finish(evaluation_id, status=Evaluation.Status.SUCCEEDED, outcome=outcome)
    return Evaluation.objects.get(id=evaluation_id)


def _outcome(evaluation: Evaluation, on_progress: ProgressCallback | None) -> Outcome:
    versions = list(
        evaluation.policy_versions.select_related("policy__route").order_by(
            "policy__route__name", "policy__name", "number"
        )
    )
    if evaluation.mode == Evaluation.Mode.LIVE:
        return live_run(evaluation, versions, on_progress)
    return recorded_run(evaluation, versions, on_progress)


@transaction.atomic
def _finish(evaluation_id: int, *, status: str, outcome: Outcome | None = None, error: str = "") -> None:
    updated = Evaluation.objects.filter(id=evaluation_id, status=Evaluation.Status.RUNNING).update(
        status=status,
        results=outcome.results if outcome else {},
        decisions=outcome.decisions if outcome else {},
        error=error[:5000],
        finished_at=timezone.now(),
        progress_done=F("progress_total") if outcome else F("progress_done"),
    )
    if updated and outcome is not None:
        EvaluationPoint.objects.filter(evaluation_id=evaluation_id).delete()
        EvaluationPoint.objects.bulk_create(outcome.points)


# -- what each policy does on each row -----------------------------------------------------------------------


@dataclass(frozen=True)
class Trace:
    """A policy's own decision per row (True: the strong model answers) and, for a swept kind, its score."""

    strong: tuple[bool, ...]
    scores: tuple[float, ...] | None = None
    strong_below: bool = False
    cascade: bool = False
    threshold: float | None = None

    def subset(self, indices: Sequence[int]) -> Trace:
        scores = _pick(self.scores, indices) if self.scores is not None else None
        return Trace(_pick(self.strong, indices), scores, self.strong_below, self.cascade, self.threshold)


def _pick(values: Sequence, indices: Sequence[int]) -> tuple:
    return tuple(values[index] for index in indices)


def _request(prompt: str) -> RouteRequest:
    return RouteRequest(text=prompt, input_tokens=estimate_tokens(prompt))


def _context(policy: Policy, replay: Replay, everyone: bool = False) -> RoutingContext:
    """The two recorded models (or, with `everyone`, all of them) as the only candidates; a semantic
    policy gets the stored embeddings of the prompts (each embedded once), a learned one those and its
    trained router."""
    candidates = (replay.weak.candidate, replay.strong.candidate)
    if everyone:
        candidates = tuple(model.candidate for model in replay.models)
    if isinstance(policy, LearnedPolicy):
        router = learned_router(policy)
        return RoutingContext(candidates=candidates, embed=StoredEmbeddings(replay), router=router)
    if policy.kind == "semantic":
        return RoutingContext(candidates=candidates, embed=StoredEmbeddings(replay))
    return RoutingContext(candidates=candidates)


def learned_router(policy: LearnedPolicy):
    try:
        return predictor_of(trained_router_get(ref=policy.router))
    except UnknownRouter as exc:
        raise EvaluationError(str(exc)) from None


class StoredEmbeddings:
    """An embedder over the replay's prompts, fetched from the embedding store once for the whole run."""

    def __init__(self, replay: Replay):
        prompts = [row.prompt[:MAX_QUERY_CHARS] for row in replay.rows]
        self.vectors = dict(zip(prompts, embeddings_get(prompts), strict=True))

    def __call__(self, texts):
        return [self.vectors[text] if text in self.vectors else embed_now([text])[0] for text in texts]


def heldout_only(replay: Replay, versions: list[PolicyVersion], dataset: str) -> Replay:
    """The replay cut to the prompts every learned router trained on this dataset held out: scoring a
    router on the prompts it learned from would flatter it, and every policy is scored on the same items."""
    kept: set[str] | None = None
    labels = []
    for version in versions:
        if version.kind != LearnedPolicy.kind:
            continue
        try:
            router = trained_router_get(ref=version.spec.get("router", ""))
        except UnknownRouter:
            continue  # the policy's own trace reports it
        if router.source.get("kind") == "dataset" and router.source.get("dataset") == dataset:
            held = set(router.heldout_hashes)
            kept = held if kept is None else kept & held
            labels.append(router.label)
    if kept is None:
        return replay
    rows = tuple(row for row in replay.rows if prompt_hash(row.prompt) in kept)
    if not rows:
        raise EvaluationError(
            f"{', '.join(labels)} learned from every prompt of {dataset!r}: no held-out prompt is left to "
            "score it on; train it with a held-out share above 0"
        )
    note = (
        f"Scored on the {len(rows)} of {len(replay.rows)} items that {', '.join(labels)} held out in "
        "training "
        "(every policy on the same items)."
    )
    return dataclasses.replace(replay, rows=rows, notes=(*replay.notes, note))


def outside_models(policy: Policy, keys: set[str]) -> list[str]:
    """The models a policy names that the evaluation has no answers of. A learned policy scores whatever
    candidates it is given, so only the other kinds would have their choice of such a model replaced."""
    if isinstance(policy, LearnedPolicy):
        return []
    return sorted(policy.models_referenced() - keys)


def policy_trace(policy: Policy, replay: Replay, progress: Progress) -> Trace:
    outside = outside_models(policy, {replay.weak.key, replay.strong.key})
    if outside:
        raise EvaluationError(
            f"cannot be judged on the {replay.weak.name} / {replay.strong.name} pair: it names "
            f"{', '.join(outside)}, whose answers are not replayed here, and mapping its choices onto the "
            "pair would judge another policy; evaluate a version that names only the two"
        )
    if policy.kind == "cascade" and not any(row.weak_answer for row in replay.rows):
        raise EvaluationError(
            f"cannot be judged on this dataset: it holds no answer text of {replay.weak.name}, and a cascade "
            "decides by judging the cheap model's answer"
        )
    context = _context(policy, replay)
    strong, scores = [], []
    for row in replay.rows:
        request = _request(row.prompt)
        decision = policy.decide(request, context)
        if policy.kind == "cascade":
            scores.append(answer_confidence(row.weak_answer, request))
            strong.append(_escalates(decision.cascade, scores[-1], replay))
        else:
            scores.append(decision.score)
            strong.append(decision.model == replay.strong.key)
        progress.tick()
    if policy.kind == "cascade":
        return Trace(
            tuple(strong), tuple(scores), strong_below=True, cascade=True, threshold=policy.threshold
        )
    if policy.kind == "semantic":
        direction = semantic_direction(policy, replay)
        if direction is None or None in scores:  # no single cut, or an embedding failed
            return Trace(tuple(strong))
        return Trace(tuple(strong), tuple(scores), strong_below=direction, threshold=policy.threshold)
    swept = policy.kind == "complexity" or (isinstance(policy, LearnedPolicy) and policy.mode == "threshold")
    threshold = policy.threshold if isinstance(policy, LearnedPolicy) else None
    return Trace(tuple(strong), tuple(scores) if swept else None, threshold=threshold)


def semantic_direction(policy, replay: Replay) -> bool | None:
    """How a semantic policy's similarity threshold splits the two models: False when its routes name the
    strong model and its default the weak one (strong at or above the threshold), True the other way
    round, None when its routes name both or neither (no single threshold to sweep)."""
    routed = {route.model for route in policy.routes}
    if routed == {replay.strong.key} and policy.default == replay.weak.key:
        return False
    if routed == {replay.weak.key} and policy.default == replay.strong.key:
        return True
    return None


def many_models(replay: Replay, traced: list) -> dict | None:
    """With three or more models: each model's point, the Pareto frontier, the best single model, the
    oracle, the random router, and each policy's own point choosing among all of them."""
    if len(replay.models) < 3:
        return None
    names = [model.name for model in replay.models]
    quality = [row.qualities for row in replay.rows]
    cost = [row.costs for row in replay.rows]
    points = frontier.model_points(names, quality, cost)
    oracle_quality, oracle_cost = frontier.oracle(quality, cost)
    random_quality, random_cost = frontier.random_point(points)
    return {
        "models": [vars(point) for point in points],
        "pareto": [point.name for point in points if point.pareto],
        "best_single": vars(frontier.best_single(points)),
        "oracle": {"quality": oracle_quality, "cost": oracle_cost},
        "random": {"quality": random_quality, "cost": random_cost},
        "policies": [_many_point(version, replay) for version, _, _ in traced],
    }


def _many_point(version: PolicyVersion, replay: Replay) -> dict:
    head = {"label": version_label(version), "kind": version.kind}
    try:
        policy = compile_policy(version.spec)
    except (PolicyError, ValueError) as exc:
        return {**head, "error": f"{type(exc).__name__}: {exc}"}
    outside = outside_models(policy, {model.key for model in replay.models})
    if outside:
        return {**head, "error": f"names {', '.join(outside)}, which the dataset has no answers of"}
    if policy.kind == "cascade":
        return {
            **head,
            "error": "a cascade's point among many models needs its escalations' answers: see its sweep",
        }
    context = _context(policy, replay, everyone=True)
    column = {model.key: at for at, model in enumerate(replay.models)}
    chosen = [column[policy.decide(_request(row.prompt), context).model] for row in replay.rows]
    n = len(chosen)
    return {
        **head,
        "quality": sum(row.qualities[m] for row, m in zip(replay.rows, chosen, strict=True)) / n,
        "cost": sum(row.costs[m] for row, m in zip(replay.rows, chosen, strict=True)) / n,
        "model_shares": {model.name: chosen.count(at) / n for at, model in enumerate(replay.models)},
    }


def _escalates(plan, confidence: float, replay: Replay) -> bool:
    """Whether the cascade's own plan ends on the strong model for an answer this confident."""
    chain = plan.chain if plan is not None else ()
    if chain and chain[0] == replay.strong.key:
        return True
    return replay.strong.key in chain[1:] and confidence < plan.threshold


def _policy_notes(policy: Policy, label: str, replay: Replay) -> list[str]:
    notes = []
    if isinstance(policy, LearnedPolicy) and (
        outside := sorted(policy.models_referenced() - {replay.weak.key, replay.strong.key})
    ):
        notes.append(
            f"{label} also names {', '.join(outside)}: its two-model point chooses between the pair only, by "
            "the router's predictions for those two."
        )
    if policy.needs_classification:
        notes.append(f"{label}: no classifier model is called offline, so every item takes the default tier.")
    if policy.kind == "cascade" and getattr(policy, "check", "") == "judge":
        notes.append(f"{label}: offline, the cascade's judge check is replaced by the heuristic confidence.")
    return notes


# -- figures -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """Per-item qualities and costs of both models, the inputs of every metric."""

    weak_quality: list[float]
    strong_quality: list[float]
    weak_cost: list[float]
    strong_cost: list[float]

    @classmethod
    def of(cls, rows: Sequence[Row]) -> Columns:
        return cls(
            [row.weak_quality for row in rows],
            [row.strong_quality for row in rows],
            [row.weak_cost for row in rows],
            [row.strong_cost for row in rows],
        )

    @property
    def costs(self) -> dict[str, list[float]]:
        return {"weak_cost": self.weak_cost, "strong_cost": self.strong_cost}

    def single_models(self) -> tuple[CurvePoint, CurvePoint]:
        return metrics.single_model_points(self.weak_quality, self.strong_quality, **self.costs)


def curve_figures(curve: Sequence[CurvePoint], weak: float, strong: float) -> dict:
    if not curve:
        return {"apgr": None, "cpt50": None, "cpt80": None}
    return {
        "apgr": metrics.apgr(curve, weak, strong),
        "cpt50": metrics.cpt(curve, weak, strong, 0.5),
        "cpt80": metrics.cpt(curve, weak, strong, 0.8),
    }


def policy_figures(trace: Trace, columns: Columns) -> tuple[dict, list[CurvePoint]]:
    """The policy's operating point, and its swept curve with APGR and CPT(50%), CPT(80%) when it has one."""
    own = metrics.route_point(
        trace.strong,
        columns.weak_quality,
        columns.strong_quality,
        **columns.costs,
        cascade=trace.cascade,
        threshold=trace.threshold,
    )
    curve = []
    if trace.scores is not None:
        thresholds = metrics.sweep_thresholds(trace.scores)
        curve = metrics.threshold_sweep(
            trace.scores,
            columns.weak_quality,
            columns.strong_quality,
            thresholds,
            **columns.costs,
            strong_below=trace.strong_below,
            cascade=trace.cascade,
        )
    weak, strong = columns.single_models()
    figures = {"quality": own.quality, "cost": own.cost, "total_cost": own.cost * len(trace.strong)}
    figures["strong_share"] = own.strong_share
    figures.update(curve_figures(curve, weak.quality, strong.quality))
    for name in ("apgr", "cpt50", "cpt80"):
        figures[f"{name}_low"] = figures[f"{name}_high"] = None
    if trace.scores is not None and figures["apgr"] is not None:
        intervals = metrics.curve_intervals(
            trace.scores, columns.weak_quality, columns.strong_quality, strong_below=trace.strong_below
        )
        for name, (_, low, high) in intervals.items():
            figures[f"{name}_low"], figures[f"{name}_high"] = low, high
    return figures, curve


def random_curve(columns: Columns) -> list[CurvePoint]:
    return metrics.random_router_curve(
        columns.weak_quality,
        columns.strong_quality,
        RANDOM_SHARES,
        random.Random(RANDOM_SEED),
        repeats=RANDOM_REPEATS,
        **columns.costs,
    )


# -- the recorded run ----------------------------------------------------------------------------------------


def _traced(version: PolicyVersion, replay: Replay, progress: Progress) -> tuple[Trace | str, list[str]]:
    """The policy's trace and notes, or why it could not be evaluated (its share of progress skipped)."""
    label, start = version_label(version), progress.done
    try:
        policy = compile_policy(version.spec)
        return policy_trace(policy, replay, progress), _policy_notes(policy, label, replay)
    except EvaluationError as exc:
        progress.skip_to(start + len(replay.rows))
        return str(exc), []
    except (PolicyError, ValueError) as exc:
        progress.skip_to(start + len(replay.rows))
        return f"{type(exc).__name__}: {exc}", []


def _policy_summary(
    version: PolicyVersion, trace: Trace | str, columns: Columns, replay: Replay
) -> tuple[dict, list]:
    head = {"version_id": version.id, "label": version_label(version), "kind": version.kind}
    if isinstance(trace, str):
        return {**head, "error": trace, "swept": False}, []
    figures, curve = policy_figures(trace, columns)
    shares = {replay.weak.name: 1 - figures["strong_share"], replay.strong.name: figures["strong_share"]}
    summary = {**head, **figures, "threshold": trace.threshold, "model_shares": shares}
    return {**summary, "swept": bool(curve), "curve_points": len(curve), "error": ""}, curve


def _baselines(columns: Columns, replay: Replay, random_points: list[CurvePoint]) -> dict:
    weak, strong = columns.single_models()
    return {
        "weak": {"model": replay.weak.name, "quality": weak.quality, "cost": weak.cost},
        "strong": {"model": replay.strong.name, "quality": strong.quality, "cost": strong.cost},
        "random": {
            "seed": RANDOM_SEED,
            "repeats": RANDOM_REPEATS,
            **curve_figures(random_points, weak.quality, strong.quality),
        },
    }


def _without_excluded(replay: Replay, traces: list[tuple[PolicyVersion, Trace | str]]) -> dict | None:
    """The headline figures again over the items not marked excluded (RouteLLM's decontaminated set)."""
    kept = [index for index, row in enumerate(replay.rows) if not row.excluded]
    if not kept:
        return None
    columns = Columns.of([replay.rows[index] for index in kept])
    weak, strong = columns.single_models()
    policies = [  # a list: jsonb does not keep the keys of an object in order
        {
            "label": version_label(version),
            "kind": version.kind,
            **policy_figures(trace.subset(kept), columns)[0],
        }
        for version, trace in traces
        if isinstance(trace, Trace)
    ]
    random_apgr = curve_figures(random_curve(columns), weak.quality, strong.quality)["apgr"]
    return {
        "items": len(kept),
        "weak_quality": weak.quality,
        "strong_quality": strong.quality,
        "random_apgr": random_apgr,
        "policies": policies,
    }


def _baseline_rows(
    evaluation_id: int, columns: Columns, replay: Replay, random_points
) -> list[EvaluationPoint]:
    weak, strong = columns.single_models()
    series = EvaluationPoint.Series
    return [
        *curve_rows(evaluation_id, series.WEAK, replay.weak.name, [weak]),
        *curve_rows(evaluation_id, series.STRONG, replay.strong.name, [strong]),
        *curve_rows(evaluation_id, series.RANDOM, "random router", random_points),
    ]


def recorded_run(
    evaluation: Evaluation, versions: list[PolicyVersion], on_progress: ProgressCallback | None = None
) -> Outcome:
    if not (evaluation.weak_model and evaluation.strong_model):
        raise EvaluationError("A recorded evaluation needs its weak and strong model named.")
    named = {"weak": evaluation.weak_model, "strong": evaluation.strong_model}
    replay = heldout_only(replay_load(evaluation.dataset, **named), versions, evaluation.dataset.name)
    progress = Progress(evaluation.id, len(replay.rows) * len(versions), on_progress)
    traced = [(version, *_traced(version, replay, progress)) for version in versions]
    columns = Columns.of(replay.rows)
    random_points = random_curve(columns)
    points = _baseline_rows(evaluation.id, columns, replay, random_points)
    policies = []
    for version, trace, _ in traced:
        summary, curve = _policy_summary(version, trace, columns, replay)
        policies.append(summary)
        points += curve_rows(evaluation.id, EvaluationPoint.Series.POLICY, summary["label"], curve)
    results = {
        "mode": Evaluation.Mode.RECORDED.value,
        "dataset": {
            "name": evaluation.dataset.name,
            "items": len(replay.rows),
            "excluded": sum(row.excluded for row in replay.rows),
            "quality_scale": evaluation.dataset.quality_scale,
        },
        "models": {"weak": replay.weak.describe(), "strong": replay.strong.describe()},
        "baselines": _baselines(columns, replay, random_points),
        "policies": policies,
        "without_excluded": _without_excluded(replay, [(version, trace) for version, trace, _ in traced]),
        "many_models": many_models(replay, traced),
        "notes": [*replay.notes, *(note for _, _, notes in traced for note in notes)],
    }
    return Outcome(results, points, _decisions(replay, traced))


def _decisions(replay: Replay, traced: list) -> dict:
    """Per item its prompt's hash and excluded flag, both models' qualities, and per policy the model it
    chose and its score: the per-prompt decisions an export lists."""
    return {
        "weak": replay.weak.name,
        "strong": replay.strong.name,
        "items": [
            [prompt_hash(row.prompt), row.excluded, row.weak_quality, row.strong_quality]
            for row in replay.rows
        ],
        "policies": [
            {
                "label": version_label(version),
                "strong": [int(flag) for flag in trace.strong],
                "scores": list(trace.scores) if trace.scores is not None else None,
            }
            for version, trace, _ in traced
            if isinstance(trace, Trace)
        ],
    }
