"""Format checks: the answer is JSON, is JSON valid against a schema, or matches a regular expression.

JSON is strict (no NaN or Infinity). The answer counts as JSON when the whole of it parses, or else when a
fenced block in it (```json ... ``` or a bare ``` ... ```) does: models often wrap JSON in prose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from analytics.scorers.base import Score, ScoreInput, Scorer

FENCED_BLOCK = re.compile(r"```[ \t]*(?:json5?|JSON)?[ \t]*\n(.*?)\n?[ \t]*```", re.DOTALL)
NO_VALUE = object()
REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE, "a": re.ASCII}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def parse_json_answer(text: str) -> tuple[Any, str]:
    """The JSON value of an answer and where it was found, or (NO_VALUE, why not)."""
    stripped = text.strip()
    if not stripped:
        return NO_VALUE, "the answer is empty"
    try:
        return _loads(stripped), "the whole answer"
    except ValueError as exc:
        error = f"not JSON: {exc}"
    for block in FENCED_BLOCK.findall(text):
        try:
            return _loads(block), "a fenced block"
        except ValueError:
            continue
    return NO_VALUE, error


class JsonValid(Scorer):
    name = "json_valid"

    def evaluate(self, input: ScoreInput) -> Score:
        value, where = parse_json_answer(input.answer)
        if value is NO_VALUE:
            return self.scored(0.0, detail=where)
        return self.scored(1.0, detail=f"{where} parses as JSON")


def _path(error: jsonschema.ValidationError) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)


class JsonSchema(Scorer):
    """1 when the answer's JSON is valid against `schema` (any draft `jsonschema` knows; formats checked)."""

    name = "json_schema"

    def __init__(self, schema: Mapping[str, Any] | bool):
        if not isinstance(schema, Mapping | bool):
            raise ValueError(f"json_schema: schema must be a JSON Schema object, not {type(schema).__name__}")
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"json_schema: the schema is invalid: {exc.message}") from None
        self.validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)

    def evaluate(self, input: ScoreInput) -> Score:
        value, where = parse_json_answer(input.answer)
        if value is NO_VALUE:
            return self.scored(0.0, detail=where)
        error = best_match(self.validator.iter_errors(value))
        if error is not None:
            return self.scored(0.0, detail=f"{where} breaks the schema at {_path(error)}: {error.message}")
        return self.scored(1.0, detail=f"{where} is valid against the schema")


def regex_flags(flags: str | int) -> int:
    """Flags as letters ("im": IGNORECASE and MULTILINE, as in inline `(?im)`) or an `re` flags integer."""
    if isinstance(flags, int) and not isinstance(flags, bool):
        return flags
    if not isinstance(flags, str) or any(letter not in REGEX_FLAGS for letter in flags.lower()):
        raise ValueError(f"regex: flags must be letters among {''.join(REGEX_FLAGS)}, not {flags!r}")
    value = 0
    for letter in flags.lower():
        value |= REGEX_FLAGS[letter]
    return value


class Regex(Scorer):
    """1 when `pattern` matches somewhere in the answer (`re.search`)."""

    name = "regex"

    def __init__(self, pattern: str, flags: str | int = ""):
        if not isinstance(pattern, str) or not pattern:
            raise ValueError("regex: pattern must be a non-empty string")
        try:
            self.pattern = re.compile(pattern, regex_flags(flags))
        except re.error as exc:
            raise ValueError(f"regex: pattern {pattern!r} is invalid: {exc}") from None

    def evaluate(self, input: ScoreInput) -> Score:
        found = self.pattern.search(input.answer)
        if found is None:
            return self.scored(0.0, detail="no match")
        return self.scored(1.0, raw=found.group(0)[:200], detail=f"matched at {found.start()}")
