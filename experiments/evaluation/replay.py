"""A dataset of recorded answers made ready to replay: the items holding both models' qualities, the weak
and the strong model as the person named them, each item's cost on each.

An item costs estimate_tokens(prompt) x input price + estimate_tokens(answer) x output price of the model
that answers it. Prices come from the registry's model whose model id is the recorded model name
(preferring a replay provider of this dataset), else from RouteLLM's published prices; the notes say which.
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.evaluation.common import EvaluationError
from experiments.models import Dataset, RecordedAnswer
from routing.models import Model, Provider
from routing.policies import Candidate, estimate_tokens

# RouteLLM's prices (USD per million input and output tokens) for the two models of its evaluation data.
ROUTELLM_PRICES = {
    "mistralai/Mixtral-8x7B-Instruct-v0.1": (0.24, 0.24),
    "gpt-4-1106-preview": (10.0, 30.0),
}
DEFAULT_CONTEXT_WINDOW = 128_000
DEFAULT_MAX_OUTPUT_TOKENS = 4096


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
    qualities: tuple[float, ...] = ()  # every model's of `Replay.models`, in that order
    costs: tuple[float, ...] = ()


@dataclass(frozen=True)
class Replay:
    """A dataset ready to replay: the items that hold both models' qualities, the two models, and notes."""

    rows: tuple[Row, ...]
    weak: PricedModel
    strong: PricedModel
    notes: tuple[str, ...] = ()
    models: tuple[PricedModel, ...] = ()  # every model whose quality every row holds, weak and strong too


Answers = dict[str, tuple[str, float | None]]  # model name -> (answer, quality)


def replay_load(dataset: Dataset, *, weak: str, strong: str) -> Replay:
    """The dataset ready to replay with `weak` and `strong` as the person named them: the two roles are
    never inferred from the data."""
    items = _items(dataset)
    _named_check(items, dataset.name, weak, strong)
    weak_name, strong_name, notes = weak, strong, _gap_notes(items, weak, strong)
    weak, weak_note = _priced(weak_name, dataset.name, Model.Tier.CHEAP)
    strong, strong_note = _priced(strong_name, dataset.name, Model.Tier.PREMIUM)
    complete = [
        (prompt, excluded, answers)
        for prompt, excluded, answers in items
        if _quality(answers, weak_name) is not None and _quality(answers, strong_name) is not None
    ]
    others = [
        name
        for name in dict.fromkeys(model for _, _, answers in complete for model in answers)
        if name not in (weak_name, strong_name) and all(_quality(a, name) is not None for _, _, a in complete)
    ]
    everyone = (weak, *(_priced(name, dataset.name, Model.Tier.MID)[0] for name in others), strong)
    rows = tuple(
        _row(prompt, excluded, answers, weak, strong, everyone) for prompt, excluded, answers in complete
    )
    if not rows:
        raise EvaluationError(
            f"No item of {dataset.name!r} holds the quality of both {weak_name} and {strong_name}."
        )
    if len(rows) < len(items):
        notes.append(
            f"{len(items) - len(rows)} items lack a quality of one of the two models and are left out."
        )
    notes += [note for note in (weak_note, strong_note) if note]
    later = sum(later_turn(metadata) for metadata in dataset.items.values_list("metadata", flat=True))
    if later:
        notes.append(
            f"{later} items of a later conversation turn are left out: a router decides on the first."
        )
    return Replay(rows, weak, strong, tuple(notes), everyone)


def _named_check(items: list[tuple[str, bool, Answers]], dataset_name: str, weak: str, strong: str) -> None:
    known = {
        model for _, _, answers in items for model, (_, quality) in answers.items() if quality is not None
    }
    for role, name in (("weak", weak), ("strong", strong)):
        if name not in known:
            raise EvaluationError(
                f"The {role} model {name!r} has no recorded quality in {dataset_name!r} "
                f"(it holds {', '.join(sorted(known)) or 'none'})."
            )
    if weak == strong:
        raise EvaluationError("The weak and the strong model must differ.")


def _items(dataset: Dataset) -> list[tuple[str, bool, Answers]]:
    """(prompt, excluded, answers) per item, in the dataset's order. A conversation is routed on its
    first turn, as RouteLLM routes MT-Bench per question: items of a later turn (`metadata.turn` > 1)
    are left out."""
    rows = (
        RecordedAnswer.objects.filter(item__dataset=dataset)
        .order_by("item__position", "model_name")
        .values_list(
            "item_id", "item__prompt", "item__excluded", "item__metadata", "model_name", "answer", "quality"
        )
    )
    items: dict[int, tuple[str, bool, Answers]] = {}
    for item_id, prompt, excluded, metadata, model, answer, quality in rows.iterator(chunk_size=2000):
        if later_turn(metadata):
            continue
        items.setdefault(item_id, (prompt, excluded, {}))[2][model] = (answer, quality)
    return list(items.values())


def later_turn(metadata) -> bool:
    return isinstance(metadata, dict) and (metadata.get("turn") or 1) != 1


def _quality(answers: Answers, model: str) -> float | None:
    return answers.get(model, ("", None))[1]


def _gap_notes(items: list[tuple[str, bool, Answers]], weak: str, strong: str) -> list[str]:
    """A note when the two models' mean qualities are equal: there is then no gap to recover."""
    means = []
    for name in (weak, strong):
        values = [quality for _, _, answers in items if (quality := _quality(answers, name)) is not None]
        means.append(sum(values) / len(values))
    if means[0] == means[1]:
        return ["Both models have the same mean quality: there is no gap to recover, so no APGR or CPT."]
    return []


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


def _row(
    prompt: str,
    excluded: bool,
    answers: Answers,
    weak: PricedModel,
    strong: PricedModel,
    everyone: tuple[PricedModel, ...],
) -> Row:
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
        tuple(answers[model.name][1] for model in everyone),
        tuple(model.cost(prompt, answers[model.name][0]) for model in everyone),
    )
