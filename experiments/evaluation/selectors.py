"""Reads of offline evaluations: lists, curves, the CSV export, and policy versions named as the CLI does."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.db.models import Prefetch, QuerySet

from experiments.models import Evaluation, EvaluationPoint
from routing.models import PolicyVersion

POLICY_REF = re.compile(r"^(?P<route>[-\w]+)/(?P<policy>[-\w]+)(?:@v(?P<number>\d+))?$")
CSV_HEADER = (
    "row",
    "series",
    "label",
    "threshold",
    "strong_share",
    "quality",
    "cost_per_item_usd",
    "apgr",
    "cpt50",
    "cpt80",
)


def evaluation_list() -> QuerySet[Evaluation]:
    versions = PolicyVersion.objects.select_related("policy__route").order_by(
        "policy__route__name", "policy__name", "number"
    )
    return (
        Evaluation.objects.defer("decisions")
        .select_related("dataset", "created_by", "experiment__route")
        .prefetch_related(Prefetch("policy_versions", versions))
    )


def evaluation_get(*, id: int) -> Evaluation:
    """The evaluation with its dataset and policy versions; raises Evaluation.DoesNotExist."""
    return evaluation_list().get(id=id)


def evaluation_curves(*, evaluation: Evaluation) -> list[dict]:
    """The stored curves, one entry per series and label, points in share order."""
    curves: dict[tuple[str, str], list[dict]] = {}
    for point in EvaluationPoint.objects.filter(evaluation=evaluation).order_by(
        "series", "label", "position"
    ):
        curves.setdefault((point.series, point.label), []).append(
            {
                "threshold": point.threshold,
                "strong_share": point.strong_share,
                "quality": point.quality,
                "cost": point.cost,
            }
        )
    order = {series: rank for rank, series in enumerate(EvaluationPoint.Series.values)}
    ordered = sorted(curves.items(), key=lambda entry: (order[entry[0][0]], entry[0][1]))
    return [{"series": series, "label": label, "points": points} for (series, label), points in ordered]


def _summary_rows(results: dict) -> Iterator[tuple]:
    for policy in results.get("policies", []):
        figures = [policy.get(name) for name in ("threshold", "strong_share", "quality", "cost")]
        yield ("operating_point", "policy", policy["label"], *figures, *_curve_figures(policy))
    baselines = results.get("baselines") or {}
    for series, share in (("weak", 0.0), ("strong", 1.0)):
        if baseline := baselines.get(series):
            yield ("baseline", series, baseline["model"], None, share, baseline["quality"], baseline["cost"])
    if random := baselines.get("random"):
        yield ("baseline", "random", "random router", None, None, None, None, *_curve_figures(random))


def _curve_figures(figures: dict) -> tuple:
    return figures.get("apgr"), figures.get("cpt50"), figures.get("cpt80")


def evaluation_csv_rows(*, evaluation: Evaluation) -> Iterator[tuple]:
    """The header; each policy's operating point with its APGR and CPTs and the baselines; then every point
    of every curve."""
    yield CSV_HEADER
    for row in _summary_rows(evaluation.results):
        yield row + (None,) * (len(CSV_HEADER) - len(row))
    for curve in evaluation_curves(evaluation=evaluation):
        for point in curve["points"]:
            figures = (point["threshold"], point["strong_share"], point["quality"], point["cost"])
            yield ("curve_point", curve["series"], curve["label"], *figures, None, None, None)


def policy_version_by_ref(ref: str) -> PolicyVersion:
    """`<route>/<policy>@v<n>` (without `@v<n>`: the latest version); a ValueError says what is wrong."""
    match = POLICY_REF.match(ref.strip())
    if match is None:
        raise ValueError(f"{ref!r} is not a policy reference; write <route>/<policy>@v<number>.")
    versions = PolicyVersion.objects.select_related("policy__route").filter(
        policy__route__name=match["route"], policy__name=match["policy"]
    )
    if match["number"]:
        versions = versions.filter(number=int(match["number"]))
    version = versions.order_by("-number").first()
    if version is None:
        raise ValueError(
            f"No policy version {ref!r}: check the route, the policy name and the version number."
        )
    return version


def evaluation_decision_rows(*, evaluation_id: int) -> Iterator[tuple]:
    """The header, then per item: its position, prompt hash, excluded flag, both models' qualities, and
    per policy the model it chose and its score (blank for a kind with no score)."""
    decisions = Evaluation.objects.values_list("decisions", flat=True).get(id=evaluation_id) or {}
    policies = decisions.get("policies", [])
    head = ("item", "prompt_sha256", "excluded", f"quality {decisions.get('weak')}")
    columns = [column for p in policies for column in (f"{p['label']} model", f"{p['label']} score")]
    yield (*head, f"quality {decisions.get('strong')}", *columns)
    models = (decisions.get("weak"), decisions.get("strong"))
    for at, (hash_, excluded, weak, strong) in enumerate(decisions.get("items", [])):
        cells = []
        for policy in policies:
            scores = policy["scores"]
            cells += [models[policy["strong"][at]], scores[at] if scores is not None else None]
        yield (at, hash_, excluded, weak, strong, *cells)
