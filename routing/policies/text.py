"""Cheap text features shared by the policies: keywords, code, questions, maths.

Decisions must stay well under a millisecond even for a 60,000-token prompt, so the scans look at a
bounded window of the text (`scan_window`: its head and tail, where instructions sit) and lean on
`str.find`, which runs at C speed, before any regular expression runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator

SCAN_HEAD_CHARS = 4_000
SCAN_TAIL_CHARS = 2_000
INDENTED_LINE = re.compile(r"^(?: {4,}|\t+)\S")
CODE_CHARS = re.compile(r"[(){}\[\];=]")
LATEX = re.compile(r"\\(?:frac|int|sum|sqrt|lim|prod|partial|mathbb|begin\{(?:equation|align))")
# $x^2$ but not prices: "$5 and $6" opens on a digit and closes after a space.
INLINE_MATH = re.compile(r"\$(?![\d\s])[^$\n]+(?<!\s)\$")
MATH_SYMBOLS = "∫∑∏√∞≤≥≠∂∇"
# Starts with a character class so the regex engine can skip ahead; the digit before is checked in code.
OPERATOR_THEN_DIGIT = re.compile(r"[*/^]\s*\d")
_SUFFIXES_AFTER_E = "(?:e|es|ed|ing)"
_SUFFIXES = "(?:s|es|ed|ing)?"


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters per token) for callers without a tokenizer."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def scan_window(text: str) -> str:
    """The part of the text the scans read: all of it, or its first 4,000 and last 2,000 characters."""
    if len(text) <= SCAN_HEAD_CHARS + SCAN_TAIL_CHARS:
        return text
    return text[:SCAN_HEAD_CHARS] + "\n" + text[-SCAN_TAIL_CHARS:]


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _phrase_pattern(keyword: str) -> tuple[str, str]:
    """The find anchor (the first word, lower-case) and the pattern of the whole phrase with inflections."""
    words = keyword.lower().split()
    head, last = [re.escape(word) for word in words[:-1]], words[-1]
    if not last.isalpha() or len(last) < 3:
        tail = re.escape(last)
    elif last.endswith("e"):
        tail = re.escape(last[:-1]) + _SUFFIXES_AFTER_E
    elif last[-1] not in "aeiouy":
        doubled = re.escape(last[-1])  # debug -> debugged, debugging
        tail = re.escape(last) + f"(?:s|es|ed|ing|{doubled}ed|{doubled}ing)?"
    else:
        tail = re.escape(last) + _SUFFIXES
    anchor = words[0][:-1] if len(words) == 1 and tail.endswith(_SUFFIXES_AFTER_E) else words[0]
    return anchor, r"\s+".join([*head, tail]) + r"(?!\w)"


class KeywordMatcher:
    """Whole-word, case-insensitive keyword matching with simple inflections.

    "optimize" matches "optimized" and "Optimizing"; "step by step" matches across any whitespace;
    "prove" does not match "improve" or "proverb".
    """

    __slots__ = ("keywords", "_entries")

    def __init__(self, keywords: Iterable[str]):
        self.keywords = tuple(dict.fromkeys(keyword.strip() for keyword in keywords if keyword.strip()))
        entries = (_phrase_pattern(keyword) for keyword in self.keywords)
        self._entries = tuple((anchor, re.compile(pattern)) for anchor, pattern in entries)

    def find(self, text: str, *, lowered: bool = False) -> list[str]:
        """Distinct matches, lower-cased, in order of first appearance; `lowered` if text is already lower."""
        text = text if lowered else text.lower()
        first_seen: dict[str, int] = {}
        for anchor, pattern in self._entries:
            for position, found in _matches(text, anchor, pattern):
                first_seen.setdefault(found, position)
        return sorted(first_seen, key=first_seen.__getitem__)


def _matches(text: str, anchor: str, pattern: re.Pattern[str]) -> Iterator[tuple[int, str]]:
    position = text.find(anchor)
    while position != -1:
        if position == 0 or not _is_word_char(text[position - 1]):
            match = pattern.match(text, position)
            if match:
                yield position, " ".join(match.group(0).split())
        position = text.find(anchor, position + 1)


MATH_WORDS = KeywordMatcher(
    ("integral", "derivative", "equation", "theorem", "lemma", "eigenvalue", "eigenvector", "matrix",
     "polynomial", "probability")
)  # fmt: skip


def has_code(text: str) -> bool:
    """A fenced block, or at least two consecutive indented lines that look like code, in the scan window."""
    window = scan_window(text)
    if "```" in window or "~~~" in window:
        return True
    if "    " not in window and "\t" not in window:
        return False
    run: list[str] = []
    for line in window.splitlines():
        if INDENTED_LINE.match(line):
            run.append(line)
            if len(run) >= 2 and any(CODE_CHARS.search(item) for item in run):
                return True
        elif line.strip():
            run = []
    return False


def has_math(window: str, lowered: str | None = None) -> bool:
    """Formulas (LaTeX, $...$, symbols, arithmetic with ^ * /) or maths vocabulary in the window."""
    if ("\\" in window and LATEX.search(window)) or ("$" in window and INLINE_MATH.search(window)):
        return True
    if any(symbol in window for symbol in MATH_SYMBOLS) or _has_arithmetic(window):
        return True
    return bool(MATH_WORDS.find(lowered if lowered is not None else window.lower(), lowered=True))


def _has_arithmetic(window: str) -> bool:
    """A power (x^2) or a product or quotient of numbers (3 * 4, 10/2)."""
    for match in OPERATOR_THEN_DIGIT.finditer(window):
        if window[match.start()] == "^":
            return True
        before = match.start() - 1
        while before >= 0 and window[before].isspace():
            before -= 1
        if before >= 0 and window[before].isdigit():
            return True
    return False


def count_questions(text: str) -> int:
    return scan_window(text).count("?")


def word_count(text: str) -> int:
    return len(text.split())


def preview(text: str, limit: int = 60) -> str:
    """A one-line excerpt for traces."""
    flat = " ".join(text[: limit * 4].split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
