"""What PostgreSQL's text and jsonb can hold: neither NUL nor a lone UTF-16 surrogate.

Both are valid in the JSON a client sends (`"\\u0000"`, `"\\ud800"`), so values bound for a row pass
through `storable` first: NUL becomes U+FFFD and a lone surrogate "?".
"""

from __future__ import annotations

from typing import Any


def storable(value: Any) -> Any:
    """`value` (a string, or lists and dicts of them, as JSON decodes) in a form PostgreSQL stores."""
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            return value
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value
