"""Run an evaluation: claim it, load the dataset's rows, run each policy over them, save the results.

Recorded mode follows RouteLLM's method on a dataset of two models' recorded answers and qualities; the
weak model is the one with the lower mean quality. For each policy version:

- its own operating point: each item decided by the policy with the two models as the only candidates;
- complexity: the policy's complexity score of each prompt is swept as a threshold, an item going to
  the strong model when score >= threshold;
- cascade: the weak model's recorded answer is scored with `answer_confidence`, and the sweep escalates
  an item to the strong model when confidence < threshold, paying both calls when it does.

Every item counts, contaminated prompts included, as in RouteLLM's published accuracies; the figures
without the excluded items follow under `without_excluded`. An item costs estimate_tokens(prompt) x input
price + estimate_tokens(answer) x output price of the model that answers it. Prices come from the
registry's model whose model id is the recorded model name (preferring a replay provider of this
dataset), else from RouteLLM's published prices; the results say which.
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from experiments.evaluation import metrics
from experiments.evaluation.common import (
    EvaluationAborted,
    EvaluationError,
    Outcome,
    Progress,
    ProgressCallback,
    curve_rows,
    version_label,
)
from experiments.evaluation.metrics import CurvePoint
from experiments.models import Dataset, Evaluation, EvaluationPoint, RecordedAnswer
from routing.models import Model, PolicyVersion, Provider
from routing.policies import (
    Candidate,
    Policy,
    PolicyError,
    RouteRequest,
    RoutingContext,
    answer_confidence,
    compile_policy,
    estimate_tokens,
)

logger = logging.getLogger(__name__)

RANDOM_SHARES = tuple(k / 20 for k in range(21))
RANDOM_REPEATS = 10
RANDOM_SEED = 0
# RouteLLM's prices (USD per million input and output tokens) for the two models of its evaluation data.
ROUTELLM_PRICES = {
    "mistralai/Mixtral-8x7B-Instruct-v0.1": (0.24, 0.24),
    "gpt-4-1106-preview": (10.0, 30.0),
}
DEFAULT_CONTEXT_WINDOW = 128_000
DEFAULT_MAX_OUTPUT_TOKENS = 4096


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
        from experiments.evaluation.live import live_run

        return live_run(evaluation, versions, on_progress)
    return recorded_run(evaluation, versions, on_progress)


@transaction.atomic
def _finish(evaluation_id: int, *, status: str, outcome: Outcome | None = None, error: str = "") -> None:
    updated = Evaluation.objects.filter(id=evaluation_id, status=Evaluation.Status.RUNNING).update(
        status=status,
        results=outcome.results if outcome else {},
        error=error[:5000],
        finished_at=timezone.now(),
        progress_done=F("progress_total") if outcome else F("progress_done"),
    )
    if updated and outcome is not None:
        EvaluationPoint.objects.filter(evaluation_id=evaluation_id).delete()
        EvaluationPoint.objects.bulk_create(outcome.points)


# -- the dataset's rows and the two models -------------------------------------------------------------------


@dataclass(frozen=True)
class PricedModel:
    """One of the two recorded models, with the prices and limits its items are costed and decided with."""

    name: str
    key: str
    tier: str
    input_price: float
    output_price: float
    price_source: str
    context_window: int = DEFAULT_CONTEXT_WINDOW
    max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS

    def cost(self, prompt: str, answer: str) -> float:
        """USD: estimated prompt tokens at the input price, estimated answer tokens at the output price."""
        return (
            estimate_tokens(prompt) * self.input_price + estimate_tokens(answer) * self.output_price
        ) / 1e6

    @property
    def candidate(self) -> Candidate:
        return Candidate(
            self.key,
            self.tier,
            self.input_price,
            self.output_price,
            self.context_window,
            self.max_output_tokens,
        )

    def describe(self) -> dict:
        return {
            "name": self.name,
            "key": self.key,
            "input_price_per_mtok": self.input_price,
            "output_price_per_mtok": self.output_price,
            "price_source": self.price_source,
        }


@dataclass(frozen=True)
class Row:
    prompt: str
    excluded: bool
    weak_quality: float
    strong_quality: float
    weak_answer: str
    weak_cost: float
    strong_cost: float


@dataclass(frozen=True)
class Replay:
    """A dataset ready to replay: the items that hold both models' qualities, the two models, and notes."""

    rows: tuple[Row, ...]
    weak: PricedModel
    strong: PricedModel
    notes: tuple[str, ...] = ()


Answers = dict[str, tuple[str, float | None]]  # model name -> (answer, quality)


def replay_load(dataset: Dataset) -> Replay:
    items = _items(dataset)
    weak_name, strong_name, notes = _pair(items, dataset.name)
    weak, weak_note = _priced(weak_name, dataset.name, Model.Tier.CHEAP)
    strong, strong_note = _priced(strong_name, dataset.name, Model.Tier.PREMIUM)
    rows = tuple(
        _row(prompt, excluded, answers, weak, strong)
        for prompt, excluded, answers in items
        if _quality(answers, weak_name) is not None and _quality(answers, strong_name) is not None
    )
    if len(rows) < len(items):
        notes.append(
            f"{len(items) - len(rows)} items lack a quality of one of the two models and are left out."
        )
    return Replay(rows, weak, strong, tuple(notes + [note for note in (weak_note, strong_note) if note]))


def _items(dataset: Dataset) -> list[tuple[str, bool, Answers]]:
    """(prompt, excluded, answers) per item, in the dataset's order."""
    rows = (
        RecordedAnswer.objects.filter(item__dataset=dataset)
        .order_by("item__position", "model_name")
        .values_list("item_id", "item__prompt", "item__excluded", "model_name", "answer", "quality")
    )
    items: dict[int, tuple[str, bool, Answers]] = {}
    for item_id, prompt, excluded, model, answer, quality in rows.iterator(chunk_size=2000):
        items.setdefault(item_id, (prompt, excluded, {}))[2][model] = (answer, quality)
    return list(items.values())


def _quality(answers: Answers, model: str) -> float | None:
    return answers.get(model, ("", None))[1]


def _pair(items: list[tuple[str, bool, Answers]], dataset_name: str) -> tuple[str, str, list[str]]:
    """The weak and the strong model (lowest and highest mean quality), and a note when there are more."""
    qualities: dict[str, list[float]] = defaultdict(list)
    for _, _, answers in items:
        for model, (_, quality) in answers.items():
            if quality is not None:
                qualities[model].append(quality)
    if len(qualities) < 2:
        raise EvaluationError(
            f"Dataset {dataset_name!r} needs the recorded quality of two models to compare a weak and a "
            f"strong one; it has {len(qualities)} ({', '.join(qualities) or 'none'})."
        )
    ranked = sorted(qualities, key=lambda model: (sum(qualities[model]) / len(qualities[model]), model))
    notes = []
    if len(ranked) > 2:
        notes.append(
            f"The dataset holds {len(ranked)} models; evaluated {ranked[0]} (weakest) against {ranked[-1]}."
        )
    return ranked[0], ranked[-1], notes


def _registry_model(name: str, dataset_name: str) -> Model | None:
    models = Model.objects.select_related("provider").filter(
        model_id=name, provider__kind=Provider.Kind.REPLAY
    )
    ranked = sorted(
        models, key=lambda m: ((m.provider.options or {}).get("dataset") != dataset_name, not m.enabled, m.id)
    )
    return ranked[0] if ranked else None


def _priced(name: str, dataset_name: str, tier: str) -> tuple[PricedModel, str | None]:
    """The model priced from the registry, else from RouteLLM's figures, else at 0 (with a note saying so)."""
    model = _registry_model(name, dataset_name)
    if model is not None:
        prices = (float(model.input_price_per_mtok), float(model.output_price_per_mtok))
        limits = (model.context_window, model.max_output_tokens)
        return PricedModel(name, model.key, model.tier, *prices, f"registry model {model.key}", *limits), None
    key = f"replay/{name}"
    if name in ROUTELLM_PRICES:
        input_price, output_price = ROUTELLM_PRICES[name]
        note = (
            f"{name} is not in the model registry (a replay provider's model with this model id): priced at "
            f"RouteLLM's ${input_price:g} / ${output_price:g} per million input / output tokens."
        )
        return PricedModel(name, key, tier, input_price, output_price, "RouteLLM's published price"), note
    note = f"{name} is neither in the model registry nor one of RouteLLM's models: its calls cost 0."
    return PricedModel(name, key, tier, 0.0, 0.0, "unknown"), note


def _row(prompt: str, excluded: bool, answers: Answers, weak: PricedModel, strong: PricedModel) -> Row:
    weak_answer, weak_quality = answers[weak.name]
    strong_answer, strong_quality = answers[strong.name]
    return Row(
        prompt,
        excluded,
        weak_quality,
        strong_quality,
        weak_answer,
        weak.cost(prompt, weak_answer),
        strong.cost(prompt, strong_answer),
    )


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


def _context(policy: Policy, replay: Replay) -> RoutingContext:
    """The two recorded models as the only candidates; a semantic policy gets the local embedder."""
    embed = None
    if policy.kind == "semantic":
        from routing.policies.embeddings import embed as local_embed

        embed = local_embed
    return RoutingContext(candidates=(replay.weak.candidate, replay.strong.candidate), embed=embed)


def policy_trace(policy: Policy, replay: Replay, progress: Progress) -> Trace:
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
    return Trace(tuple(strong), tuple(scores) if policy.kind == "complexity" else None)


def _escalates(plan, confidence: float, replay: Replay) -> bool:
    """Whether the cascade's own plan ends on the strong model for an answer this confident."""
    chain = plan.chain if plan is not None else ()
    if chain and chain[0] == replay.strong.key:
        return True
    return replay.strong.key in chain[1:] and confidence < plan.threshold


def _policy_notes(policy: Policy, label: str, replay: Replay) -> list[str]:
    notes = []
    outside = sorted(policy.models_referenced() - {replay.weak.key, replay.strong.key})
    if outside:
        notes.append(
            f"{label} names models other than the dataset's two ({', '.join(outside)}); its own operating "
            "point maps its choices onto the two recorded models as the engine's fallback order does."
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
    return {**figures, **curve_figures(curve, weak.quality, strong.quality)}, curve


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
    policies = {
        version_label(version): policy_figures(trace.subset(kept), columns)[0]
        for version, trace in traces
        if isinstance(trace, Trace)
    }
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
    replay = replay_load(evaluation.dataset)
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
        "notes": [*replay.notes, *(note for _, _, notes in traced for note in notes)],
    }
    return Outcome(results, points)
