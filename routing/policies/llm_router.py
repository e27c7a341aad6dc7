"""`llm_router`: a cheap classifier model rates the request SIMPLE / MODERATE / COMPLEX; each maps to models.

    {"kind": "llm_router", "classifier_model": "openai/gpt-4o-mini",
     "tiers": {"SIMPLE": ["openai/gpt-4o-mini"], "MODERATE": ["openai/gpt-4o"],
               "COMPLEX": ["anthropic/claude-opus"]},
     "default_tier": "MODERATE"}

The engine does no I/O: the caller sends `classifier_prompt(request)` to `classifier_model` and passes the
raw answer as `RoutingContext.classification` (None when it did not run or timed out). Parsing accepts JSON,
JSON in fences or prose, `complexity: complex`, and a lone tier word in any case; anything else, a refusal
or no answer, routes to `default_tier` with the reason in the trace.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from routing.policies.base import Choice, Eligibility, Policy
from routing.policies.spec import Field, optional
from routing.policies.text import preview
from routing.policies.types import RouteRequest, RoutingContext

TIERS = ("SIMPLE", "MODERATE", "COMPLEX")
SYNONYMS = {
    "SIMPLE": "SIMPLE", "EASY": "SIMPLE", "LOW": "SIMPLE",
    "MODERATE": "MODERATE", "MEDIUM": "MODERATE", "INTERMEDIATE": "MODERATE",
    "COMPLEX": "COMPLEX", "HARD": "COMPLEX", "DIFFICULT": "COMPLEX", "HIGH": "COMPLEX",
}  # fmt: skip
JSON_KEYS = ("complexity", "tier", "difficulty", "level", "label", "class", "classification")
JSON_OBJECT = re.compile(r"\{[^{}]*\}")
KEYED = re.compile(r"\b(?:complexity|tier|difficulty)\W{0,3}\s*[:=]\s*[\"']?([a-z]+)", re.IGNORECASE)
BARE = re.compile(r"\b(simple|moderate|complex)\b", re.IGNORECASE)
DEFAULT_MAX_PROMPT_CHARS = 4000

SYSTEM_PROMPT = """You rate how hard a request is for a language model to answer well.
SIMPLE: a fact, a greeting, a short rewrite or translation, a one-step question.
MODERATE: an explanation, a summary, a short piece of writing or code, a few steps of reasoning.
COMPLEX: multi-step reasoning, maths or proofs, non-trivial code, analysis of long or technical material.
Do not answer the request. Reply with JSON only, exactly one of:
{"complexity": "SIMPLE"}
{"complexity": "MODERATE"}
{"complexity": "COMPLEX"}"""


def _normalize(word: Any) -> str | None:
    return SYNONYMS.get(word.strip().strip(".!\"'").upper()) if isinstance(word, str) else None


def _json_values(answer: str) -> Iterator[Any]:
    """Every JSON value in the answer: the whole answer, then each flat object inside it (fences, prose)."""
    with contextlib.suppress(ValueError):
        yield json.loads(answer)
    for match in JSON_OBJECT.finditer(answer):
        try:
            yield json.loads(match.group(0))
        except ValueError:
            continue


def _tier_from_json(value: Any) -> str | None:
    if isinstance(value, dict):
        lowered = {str(key).lower(): item for key, item in value.items()}
        return next((tier for key in JSON_KEYS if (tier := _normalize(lowered.get(key)))), None)
    return _normalize(value)


def parse_classification(answer: str | None) -> tuple[str | None, str]:
    """The tier in a classifier's raw answer, and how it was read (or why none could be)."""
    if answer is None:
        return None, "no classification (not run or timed out)"
    if not answer.strip():
        return None, "empty classification"
    for value in _json_values(answer):
        if tier := _tier_from_json(value):
            return tier, "JSON"
    if (keyed := KEYED.search(answer)) and (tier := _normalize(keyed.group(1))):
        return tier, "key: value"
    words = {word.upper() for word in BARE.findall(answer)}
    if len(words) == 1:
        return words.pop(), "bare word"
    if words:
        return None, f"ambiguous classification {preview(answer)!r}"
    return None, f"unparseable classification {preview(answer)!r}"


def clip_middle(text: str, limit: int) -> str:
    """The head and tail of a long text: the question is usually at one end."""
    if len(text) <= limit:
        return text
    head = limit * 3 // 4
    return text[:head] + "\n[…]\n" + text[-(limit - head) :]


def compile_tiers(field: Field) -> dict[str, tuple[str, ...]]:
    fields = field.obj(required=TIERS)
    return {name: fields[name].models() for name in TIERS}


class LlmRouterPolicy(Policy):
    kind = "llm_router"
    needs_classification = True
    required_keys = ("classifier_model", "tiers")
    optional_keys = ("default_tier", "max_prompt_chars")

    def __init__(
        self,
        classifier_model: str,
        tiers: Mapping[str, tuple[str, ...]],
        default_tier: str = "MODERATE",
        max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS,
        **common: Any,
    ):
        super().__init__(**common)
        self.classifier_model = classifier_model
        self.tiers = dict(tiers)
        self.default_tier = default_tier
        self.max_prompt_chars = max_prompt_chars

    @classmethod
    def compile(cls, fields: dict[str, Field], **common: Any) -> LlmRouterPolicy:
        return cls(
            fields["classifier_model"].model(),
            compile_tiers(fields["tiers"]),
            default_tier=optional(fields, "default_tier", lambda f: f.text(TIERS), "MODERATE"),
            max_prompt_chars=optional(
                fields, "max_prompt_chars", lambda f: f.integer(200), DEFAULT_MAX_PROMPT_CHARS
            ),
            **common,
        )

    def models_referenced(self) -> set[str]:
        return {self.classifier_model, *(key for keys in self.tiers.values() for key in keys)}

    def classifier_prompt(self, request: RouteRequest) -> list[dict[str, str]]:
        text = clip_middle(request.text, self.max_prompt_chars)
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Rate this request:\n<request>\n{text}\n</request>"},
        ]

    def choose(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility, trace: list[str]
    ) -> Choice:
        tier, how = parse_classification(context.classification)
        if tier is None:
            tier = self.default_tier
            trace.append(f"{how}: default tier {tier}")
        else:
            trace.append(f"classifier {self.classifier_model} said {preview(context.classification or '')!r}"
                         f" -> {tier} ({how})")  # fmt: skip
        escalation = tuple(key for name in TIERS[TIERS.index(tier) + 1 :] for key in self.tiers[name])
        return Choice(self.tiers[tier], escalation, tier=tier)
