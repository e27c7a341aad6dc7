"""`rules`: ordered conditions on the request; the first rule that matches names the model.

    {"kind": "rules",
     "rules": [{"name": "code", "when": {"feature": "code-review", "min_input_tokens": 2000},
                "model": "openai/gpt-4o", "fallbacks": ["anthropic/claude-sonnet"]}],
     "default": "openai/gpt-4o-mini"}

`when` keys (all must hold; an empty `when` always matches): feature and user_tier (a string or a list
of strings), min_input_tokens and max_input_tokens, has_images and needs_tools (booleans), metadata
(an object of required values), keywords (any of them, case-insensitive, whole words) and regex.
Keywords and regex read the first 16,000 and last 4,000 characters of a longer text (`scan_window`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from routing.policies.base import Choice, Eligibility, Policy
from routing.policies.spec import Field, optional
from routing.policies.text import KeywordMatcher, scan_window
from routing.policies.types import RouteRequest, RoutingContext

WHEN_KEYS = (
    "feature", "user_tier", "min_input_tokens", "max_input_tokens", "has_images", "needs_tools",
    "metadata", "keywords", "regex",
)  # fmt: skip

# A condition returns a short description of how it matched, or None when it does not.
Test = Callable[[RouteRequest], str | None]


@dataclass(frozen=True, slots=True)
class Condition:
    name: str
    test: Test


@dataclass(frozen=True, slots=True)
class Rule:
    label: str
    conditions: tuple[Condition, ...]
    model: str
    fallbacks: tuple[str, ...]

    def match(self, request: RouteRequest) -> tuple[list[str], str | None]:
        """How each condition matched, and the first one that failed (None when the rule matches)."""
        matched = []
        for condition in self.conditions:
            how = condition.test(request)
            if how is None:
                return matched, condition.name
            matched.append(how)
        return matched, None


def _one_of(attribute: str, field: Field) -> Test:
    if not isinstance(field.value, str | list):
        raise field.error("must be a string or an array of strings")
    values = frozenset(field.texts() if isinstance(field.value, list) else (field.text(),))

    def test(request: RouteRequest) -> str | None:
        value = getattr(request, attribute)
        return f"{attribute}={value}" if value in values else None

    return test


def _flag(attribute: str, field: Field) -> Test:
    wanted = field.boolean()
    return lambda request: f"{attribute}={wanted}" if getattr(request, attribute) == wanted else None


def _min_tokens(field: Field) -> Test:
    bound = field.integer(0)
    return lambda r: f"input_tokens {r.input_tokens:,} >= {bound:,}" if r.input_tokens >= bound else None


def _max_tokens(field: Field) -> Test:
    bound = field.integer(0)
    return lambda r: f"input_tokens {r.input_tokens:,} <= {bound:,}" if r.input_tokens <= bound else None


def _metadata(field: Field) -> Test:
    wanted = {key: value.text() for key, value in field.mapping().items()}

    def test(request: RouteRequest) -> str | None:
        if all(request.metadata.get(key) == value for key, value in wanted.items()):
            return "metadata " + ", ".join(f"{key}={value}" for key, value in wanted.items())
        return None

    return test


def _keywords(field: Field) -> Test:
    matcher = KeywordMatcher(field.texts())

    def test(request: RouteRequest) -> str | None:
        found = matcher.find(scan_window(request.text))
        return "keywords " + ", ".join(repr(word) for word in found) if found else None

    return test


def _regex(field: Field) -> Test:
    pattern = field.regex()

    def test(request: RouteRequest) -> str | None:
        match = pattern.search(scan_window(request.text))
        return f"regex /{pattern.pattern}/ matched {match.group(0)[:40]!r}" if match else None

    return test


BUILDERS: dict[str, Callable[[Field], Test]] = {
    "feature": lambda f: _one_of("feature", f),
    "user_tier": lambda f: _one_of("user_tier", f),
    "min_input_tokens": _min_tokens,
    "max_input_tokens": _max_tokens,
    "has_images": lambda f: _flag("has_images", f),
    "needs_tools": lambda f: _flag("needs_tools", f),
    "metadata": _metadata,
    "keywords": _keywords,
    "regex": _regex,
}


def compile_when(field: Field) -> tuple[Condition, ...]:
    fields = field.obj(optional=WHEN_KEYS)
    both = "min_input_tokens" in fields and "max_input_tokens" in fields
    if both and fields["max_input_tokens"].integer(0) < fields["min_input_tokens"].integer(0):
        raise fields["max_input_tokens"].error("must be at least min_input_tokens")
    # Cheap tests first; text scans last.
    return tuple(Condition(name, BUILDERS[name](fields[name])) for name in WHEN_KEYS if name in fields)


def compile_rule(field: Field, index: int) -> Rule:
    fields = field.obj(required=("when", "model"), optional=("name", "fallbacks"))
    name = optional(fields, "name", Field.text)
    return Rule(
        label=f"rules[{index}]" + (f" ({name})" if name else ""),
        conditions=compile_when(fields["when"]),
        model=fields["model"].model(),
        fallbacks=optional(fields, "fallbacks", Field.models, ()),
    )


class RulesPolicy(Policy):
    kind = "rules"
    required_keys = ("rules", "default")
    optional_keys = ("default_fallbacks",)

    def __init__(
        self, rules: tuple[Rule, ...], default: str, default_fallbacks: tuple[str, ...], **common: Any
    ):
        super().__init__(**common)
        self.rules = rules
        self.default = default
        self.default_fallbacks = default_fallbacks

    @classmethod
    def compile(cls, fields: dict[str, Field], **common: Any) -> RulesPolicy:
        rules = tuple(compile_rule(item, index) for index, item in enumerate(fields["rules"].items(0)))
        default_fallbacks = optional(fields, "default_fallbacks", Field.models, ())
        return cls(rules, fields["default"].model(), default_fallbacks, **common)

    def models_referenced(self) -> set[str]:
        keys = {self.default, *self.default_fallbacks}
        for rule in self.rules:
            keys.update((rule.model, *rule.fallbacks))
        return keys

    def choose(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility, trace: list[str]
    ) -> Choice:
        for rule in self.rules:
            matched, failed = rule.match(request)
            if failed is None:
                trace.append(f"{rule.label} matched: {'; '.join(matched) or 'no conditions'} -> {rule.model}")
                return Choice((rule.model, *rule.fallbacks))
            trace.append(f"{rule.label} no match: {failed}")
        trace.append(f"no rule matched: default {self.default}")
        return Choice((self.default, *self.default_fallbacks))
