"""A strict reader for JSON policy specs: every error names the path of the bad field."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from routing.policies.types import SpecError

ROOT = "$"


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


class Field:
    """One value of the spec and where it sits, e.g. `rules[2].when.min_input_tokens`."""

    __slots__ = ("value", "path")

    def __init__(self, value: Any, path: str = ""):
        self.value = value
        self.path = path

    def error(self, message: str) -> SpecError:
        return SpecError(self.path or ROOT, message)

    def child(self, key: str | int) -> Field:
        if isinstance(key, int):
            return Field(self.value[key], f"{self.path}[{key}]")
        return Field(self.value[key], f"{self.path}.{key}" if self.path else key)

    def _expect(self, kinds: type | tuple[type, ...], wanted: str) -> None:
        if not isinstance(self.value, kinds) or (
            isinstance(self.value, bool) and bool not in _as_tuple(kinds)
        ):
            raise self.error(f"must be {wanted}, not {_type_name(self.value)}")

    def obj(self, required: Iterable[str] = (), optional: Iterable[str] = ()) -> dict[str, Field]:
        """An object with exactly these keys allowed; optional keys set to null count as absent."""
        self._expect(dict, "an object")
        required, allowed = set(required), set(required) | set(optional)
        for key in self.value:
            if key not in allowed:
                expected = ", ".join(sorted(allowed)) or "no keys"
                raise self.child_path(key).error(f"unknown key; expected one of: {expected}")
        for key in sorted(required):
            if key not in self.value or self.value[key] is None:
                raise self.child_path(key).error("is required")
        return {key: self.child(key) for key, value in self.value.items() if value is not None}

    def child_path(self, key: str) -> Field:
        return Field(None, f"{self.path}.{key}" if self.path else str(key))

    def mapping(self, non_empty: bool = True) -> dict[str, Field]:
        """An object with free-form keys (model keys, feature names)."""
        self._expect(dict, "an object")
        if non_empty and not self.value:
            raise self.error("must not be empty")
        for key in self.value:
            if not isinstance(key, str) or not key.strip():
                raise self.error("keys must be non-empty strings")
        return {key: self.child(key) for key in self.value}

    def items(self, min_items: int = 1) -> list[Field]:
        self._expect(list, "an array")
        if len(self.value) < min_items:
            raise self.error("must not be empty" if min_items == 1 else f"needs at least {min_items} items")
        return [self.child(index) for index in range(len(self.value))]

    def text(self, choices: Iterable[str] | None = None) -> str:
        self._expect(str, "a string")
        if not self.value.strip():
            raise self.error("must not be empty")
        if choices is not None and self.value not in (options := tuple(choices)):
            raise self.error(f"must be one of: {', '.join(options)}; got {self.value!r}")
        return self.value

    def texts(self, min_items: int = 1, unique: bool = True) -> tuple[str, ...]:
        values = tuple(item.text() for item in self.items(min_items))
        for index, value in enumerate(values):
            if unique and value in values[:index]:
                raise Field(value, f"{self.path}[{index}]").error(f"duplicate {value!r}")
        return values

    def boolean(self) -> bool:
        self._expect(bool, "a boolean")
        return self.value

    def integer(self, minimum: int | None = None, maximum: int | None = None) -> int:
        self._expect(int, "an integer")
        return self._in_range(self.value, minimum, maximum)

    def number(self, minimum: float | None = None, maximum: float | None = None) -> float:
        self._expect((int, float), "a number")
        if not math.isfinite(self.value):
            raise self.error("must be a finite number")
        return float(self._in_range(self.value, minimum, maximum))

    def _in_range(self, value: int | float, minimum: float | None, maximum: float | None) -> int | float:
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}; got {value}")
        if maximum is not None and value > maximum:
            raise self.error(f"must be at most {maximum}; got {value}")
        return value

    def model(self) -> str:
        """A candidate key such as `simulator/gpt-4o-mini`; the caller checks it exists in the registry."""
        return self.text()

    def models(self, min_items: int = 1) -> tuple[str, ...]:
        return self.texts(min_items=min_items)

    def regex(self) -> re.Pattern[str]:
        pattern = self.text()
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise self.error(f"invalid regular expression: {exc}") from None


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def optional(fields: dict[str, Field], name: str, read, default: Any = None) -> Any:
    """`read(field)` when the key is present, else `default`."""
    return read(fields[name]) if name in fields else default
