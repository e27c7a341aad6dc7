"""`cascade`: call the cheapest model first; escalate along the chain while its answer looks unsure.

    {"kind": "cascade", "chain": ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-opus"],
     "threshold": 0.7, "check": "heuristic"}

`decide` returns the first eligible model of the chain and a `CascadePlan`; the executor calls it, scores
the answer with `answer_confidence` (check "heuristic") or with `judge_prompt` / `parse_judge_score`
sent to `judge_model` (check "judge"), and escalates to the next model of the plan below `threshold`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import validator_for
from referencing.exceptions import Unresolvable

from routing.policies.base import Choice, Eligibility, Policy, format_keys
from routing.policies.complexity import score_complexity
from routing.policies.spec import Field, optional
from routing.policies.text import has_code, word_count
from routing.policies.types import CascadePlan, RouteRequest, RoutingContext, SpecError

CHECKS = ("heuristic", "judge")
REFUSAL = re.compile(
    r"\bas an ai\b|\bi(?:'m| am) (?:just )?an ai\b|\bas a language model\b"
    r"|\bi (?:can't|cannot|can not|won't|am unable to|'m unable to)"
    r" (?:help|assist|provide|answer|comply|do that)"
    r"|\bi(?:'m| am) sorry,? but i\b|\bi apologi[sz]e,? but\b",
    re.IGNORECASE,
)
STRONG_HEDGE = re.compile(
    r"\bi(?:'m| am) (?:not (?:entirely |completely |really )?(?:sure|certain)|unsure)\b"
    r"|\bi (?:don't|do not) (?:really )?know\b|\bi have no idea\b|\b(?:hard|difficult|impossible) to say\b"
    r"|\bcannot be determined\b|\bno way to (?:know|tell)\b"
    r"|\bi (?:can't|cannot) (?:be sure|verify|confirm)\b",
    re.IGNORECASE,
)
WEAK_HEDGE = re.compile(
    r"\b(?:might|maybe|perhaps|possibly|probably|i think|i believe|i guess|it seems|could be"
    r"|cannot|can't|unclear|not certain)\b",
    re.IGNORECASE,
)
LIST_LINE = re.compile(r"^\s*(?:[-*•]|\d+[.)]|#{1,6})\s+\S", re.MULTILINE)


def _hedge_penalty(text: str, words: int) -> float:
    strong = {match.lower() for match in STRONG_HEDGE.findall(text)}
    weak = len(WEAK_HEDGE.findall(text))
    # A hedge word weighs less in a long answer than in a one-liner.
    return min(0.6, 0.3 * len(strong)) + min(0.35, 0.1 * weak * 30 / max(30, words))


def _has_structure(text: str) -> bool:
    return has_code(text) or len(LIST_LINE.findall(text)) >= 2 or "\n\n" in text.strip()


def answer_confidence(text: str, request: RouteRequest) -> float:
    """How sure an answer looks, in [0, 1], from its wording alone.

    1 minus penalties: strong hedges ("I'm not sure", "I don't know") 0.3 each up to 0.6; weak ones
    ("might", "perhaps", "cannot") 0.1 each in a 30-word answer, less in longer ones, up to 0.35; an answer
    short for its question up to 0.35; no structure (lists, paragraphs, code) for a complex question 0.15.
    A refusal or "as an AI" scores at most 0.1; an empty answer 0.
    """
    words = word_count(text)
    if words == 0:
        return 0.0
    question = score_complexity(request.text, request.input_tokens)
    question_words = word_count(request.text)
    # Short questions may get one-word answers ("Paris."); long ones deserve some length.
    expected = min(120.0, 0.3 * question_words) if question_words >= 25 else 0.0
    if question.tier == "complex":
        expected = max(expected, 40.0)
    penalty = _hedge_penalty(text, words)
    if expected:
        penalty += 0.35 * max(0.0, 1.0 - words / expected)
    if question.tier == "complex" and not _has_structure(text):
        penalty += 0.15
    score = max(0.0, 1.0 - penalty)
    return round(min(score, 0.1) if REFUSAL.search(text) else score, 3)


JSON_FORMATS = ("json_object", "json_schema")


def answer_kind(tool_calls: Sequence[Mapping], response_format: Mapping | None) -> str:
    """What an answer is, for judging: "tool_calls", "structured" (JSON the request asked for) or "prose"."""
    if tool_calls:
        return "tool_calls"
    return "structured" if (response_format or {}).get("type") in JSON_FORMATS else "prose"


def structured_confidence(
    text: str, tool_calls: Sequence[Mapping], tools: Sequence[Mapping] | None, response_format: Mapping | None
) -> float | None:
    """1.0 for a valid tool call or valid structured output, 0.0 for an invalid one, None for prose.

    Tool calls are valid when each names a tool the request offered and its arguments parse as a JSON
    object matching that tool's `parameters` schema; structured output when the text parses as a JSON
    object matching the `json_schema` the request gave (any object, for `json_object`). Their wording says
    nothing about them, so `answer_confidence` judges prose only.
    """
    kind = answer_kind(tool_calls, response_format)
    if kind == "tool_calls":
        offered = offered_tools(tools)
        return float(all(_valid_tool_call(call, offered) for call in tool_calls))
    if kind == "structured":
        schema = ((response_format or {}).get("json_schema") or {}).get("schema")
        return float(_valid_json(text, schema))
    return None


def offered_tools(tools: Sequence[Mapping] | None) -> dict[str, Any]:
    """The request's tools by name, each with its parameters schema (None when it has none)."""
    functions = ((tool.get("function") or tool) for tool in tools or () if isinstance(tool, Mapping))
    return {f.get("name"): f.get("parameters") for f in functions if isinstance(f, Mapping)}


def _valid_tool_call(call: Mapping, offered: dict[str, Any]) -> bool:
    function = call.get("function") or {}
    name = function.get("name")
    return name in offered and _valid_json(function.get("arguments"), offered[name])


def _valid_json(raw: Any, schema: Any) -> bool:
    """Whether `raw` (JSON text, or a value already parsed) is a JSON object that `schema` allows."""
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and _schema_allows(schema, value)


def _schema_allows(schema: Any, value: Any) -> bool:
    """Whether `value` matches a JSON schema; a schema that is not a valid one rules nothing out."""
    if not isinstance(schema, Mapping):
        return True
    validator = validator_for(schema)
    try:
        validator.check_schema(schema)
        return validator(schema).is_valid(value)
    except (SchemaError, Unresolvable):
        return True


def judge_prompt(request: RouteRequest, answer: str) -> list[dict[str, str]]:
    """Messages asking a judge model to rate an answer from 0 to 10, as JSON."""
    return [
        {
            "role": "system",
            "content": "You grade answers. Rate how correct, complete and confident the answer is for the"
            ' request, from 0 (useless or a refusal) to 10 (excellent). Reply with JSON only: {"score": N}',
        },
        {"role": "user", "content": f"<request>\n{request.text}\n</request>\n<answer>\n{answer}\n</answer>"},
    ]


SCORE_TEXT = re.compile(
    r"\bscore\W{0,3}\s*[:=]\s*(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)\s*/\s*10\b|^\s*(\d+(?:\.\d+)?)\s*$",
    re.IGNORECASE,
)


def parse_judge_score(text: str | None) -> float | None:
    """The judge's 0-10 rating scaled to [0, 1], or None when the answer holds no rating."""
    if not text:
        return None
    match = re.search(r"\{[^{}]*\}", text)
    try:
        value = json.loads(match.group(0)).get("score") if match else None
    except (ValueError, AttributeError):
        value = None
    if not isinstance(value, int | float) or isinstance(value, bool):
        found = SCORE_TEXT.search(text)
        value = float(next(group for group in found.groups() if group)) if found else None
    return None if value is None else min(1.0, max(0.0, value / 10))


class CascadePolicy(Policy):
    kind = "cascade"
    required_keys = ("chain",)
    optional_keys = ("threshold", "check", "judge_model")

    def __init__(
        self,
        chain: tuple[str, ...],
        threshold: float = 0.7,
        check: str = "heuristic",
        judge_model: str | None = None,
        **common: Any,
    ):
        super().__init__(**common)
        self.chain = chain
        self.threshold = threshold
        self.check = check
        self.judge_model = judge_model

    @classmethod
    def compile(cls, fields: dict[str, Field], **common: Any) -> CascadePolicy:
        check = optional(fields, "check", lambda f: f.text(CHECKS), "heuristic")
        judge = optional(fields, "judge_model", Field.model)
        if check == "judge" and judge is None:
            raise SpecError("judge_model", "is required when check is 'judge'")
        if check == "heuristic" and judge is not None:
            raise fields["judge_model"].error("is only used when check is 'judge'")
        threshold = optional(fields, "threshold", lambda f: f.number(0.0, 1.0), 0.7)
        return cls(fields["chain"].models(min_items=2), threshold, check, judge, **common)

    def models_referenced(self) -> set[str]:
        return {*self.chain, *((self.judge_model,) if self.judge_model else ())}

    def choose(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility, trace: list[str]
    ) -> Choice:
        usable = tuple(key for key in self.chain if key in eligibility.eligible)
        plan = CascadePlan(usable, self.threshold, self.check, self.judge_model)
        judge = f" by {self.judge_model}" if self.judge_model else ""
        trace.append(
            f"cascade: start with {usable[0] if usable else 'none'}; escalate to {format_keys(usable[1:])}"
            f" while confidence < {self.threshold} ({self.check} check{judge})"
        )
        return Choice(self.chain, escalate=False, cascade=plan)
