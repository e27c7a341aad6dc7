"""Cheap text features shared by the policies: keywords, code, questions, maths."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

FENCE = re.compile(r"```|~~~")
INDENTED_LINE = re.compile(r"^(?: {4,}|\t+)\S")
CODE_CHARS = re.compile(r"[(){}\[\];=]")
MATH = re.compile(
    r"\\(?:frac|int|sum|sqrt|lim|prod|partial|begin\{(?:equation|align)|mathbb)"
    r"|\$[^$\n]+\$"
    r"|[∫∑∏√∞≤≥≠∂∇]"
    r"|\b\d+(?:\.\d+)?\s*[\^*/]\s*\d"
    r"|\b[a-z]\s*\^\s*\d"
    r"|\b(?:integral|derivative|equation|theorem|lemma|eigen\w*|matrix|polynomial|probability)\b",
    re.IGNORECASE,
)
_SUFFIXES_AFTER_E = "(?:e|es|ed|ing)"
_SUFFIXES = "(?:s|es|ed|ing)?"


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters per token) for callers without a tokenizer."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def keyword_regex(keywords: Iterable[str]) -> re.Pattern[str]:
    """One case-insensitive pattern matching any keyword as a whole word, allowing simple inflections.

    "optimize" matches "optimized" and "optimizing"; "step by step" matches across any whitespace.
    """
    alternatives = sorted({_keyword_alternative(keyword) for keyword in keywords}, key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def _keyword_alternative(keyword: str) -> str:
    words = keyword.lower().split()
    head, last = [re.escape(word) for word in words[:-1]], words[-1]
    if not last.isalpha() or len(last) < 3:
        tail = re.escape(last)
    elif last.endswith("e"):
        tail = re.escape(last[:-1]) + _SUFFIXES_AFTER_E
    else:
        tail = re.escape(last) + _SUFFIXES
    return r"\s+".join([*head, tail])


def find_keywords(pattern: re.Pattern[str], text: str) -> list[str]:
    """The distinct matches of a `keyword_regex`, lower-cased, in order of first appearance."""
    found = (" ".join(match.group(0).lower().split()) for match in pattern.finditer(text))
    return list(dict.fromkeys(found))


def has_code(text: str) -> bool:
    """A fenced block, or at least two consecutive indented lines that look like code."""
    if FENCE.search(text):
        return True
    if "    " not in text and "\t" not in text:
        return False
    run: list[str] = []
    for line in text.splitlines():
        if INDENTED_LINE.match(line):
            run.append(line)
            if len(run) >= 2 and any(CODE_CHARS.search(item) for item in run):
                return True
        elif line.strip():
            run = []
    return False


def count_questions(text: str) -> int:
    return text.count("?")


def has_math(text: str) -> bool:
    return MATH.search(text) is not None


def word_count(text: str) -> int:
    return len(text.split())


def preview(text: str, limit: int = 60) -> str:
    """A one-line excerpt for traces."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
