"""How deeply a JSON text nests, measured before it is parsed. No Django here.

Python's `json` recurses once per array or object level and raises RecursionError (a 500) on a body
nested a few thousand levels deep, so every endpoint that parses a request body checks it first with
`json_too_deep`: one linear pass that skips string contents, so brackets inside strings do not count.
"""

from __future__ import annotations

import re
from itertools import accumulate

# A string, escapes included; possessive and with an optional closing quote, so an unterminated string
# is consumed once to the end of the text instead of rescanned from every later quote
STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
# an opening bracket steps one level in (1), a closing one steps out (255 is -1 as a signed byte)
STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def json_too_deep(body: bytes | str, limit: int) -> bool:
    """Whether `body` nests arrays and objects more than `limit` levels deep (outside strings)."""
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    brackets = STRING.sub(b"", body).translate(None, NOT_BRACKETS)
    if len(brackets) <= limit:
        return False
    steps = memoryview(brackets.translate(STEPS)).cast("b")
    return max(accumulate(steps)) > limit


def depth_message(limit: int) -> str:
    return f"The JSON is nested deeper than {limit} levels, the limit (JSON_MAX_DEPTH)."
