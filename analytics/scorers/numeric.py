"""GSM8K-style numeric answers: the answer's final number against the reference's.

The final number of a text is the first number after its last "####" marker (GSM8K solutions end with
"#### 18") or else the last number in it. GSM8K's calculator annotations ("$<<9*2=18>>18") are dropped
first. Numbers may carry a sign, a currency sign, thousands separators, decimals or a slash fraction
("-3", "$1,234.50", "3/4"); they compare exactly, as fractions, unless a tolerance is given.
"""

from __future__ import annotations

import re
from fractions import Fraction

from analytics.scorers.base import Score, ScoreInput, Scorer

CALCULATOR = re.compile(r"<<[^<>\n]*>>")
FINAL_MARKER = "####"
# A minus sign counts only when it does not follow a word ("16-3" is a subtraction, "-3" a number).
NUMBER = re.compile(
    r"(?<![\w.])(?P<minus>[-−–])?(?:[$€£¥]\s?)?(?P<minus2>-)?"
    r"(?P<body>\d{1,3}(?:,\d{3})+(?!\d)(?:\.\d+)?|\d+/\d+|\d+(?:\.\d+)?|\.\d+)"
)


def parse_number(match: re.Match[str]) -> Fraction:
    body = match.group("body").replace(",", "")
    value = Fraction(body)
    return -value if match.group("minus") or match.group("minus2") else value


def final_number(text: str) -> Fraction | None:
    """The number a GSM8K-style answer ends on, or None when the text holds no number."""
    text = CALCULATOR.sub("", text)
    marker = text.rfind(FINAL_MARKER)
    if marker >= 0:
        found = NUMBER.search(text, marker + len(FINAL_MARKER))
        if found:
            return parse_number(found)
    matches = list(NUMBER.finditer(text))
    return parse_number(matches[-1]) if matches else None


def format_number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


class NumericAnswer(Scorer):
    """1 when the answer's final number equals the reference's (within `tolerance`, absolute)."""

    name = "numeric_answer"
    needs_reference = True

    def __init__(self, tolerance: float = 0.0):
        if not tolerance >= 0:
            raise ValueError(f"numeric_answer: tolerance must be a number >= 0, not {tolerance!r}")
        self.tolerance = Fraction(tolerance)

    def evaluate(self, input: ScoreInput) -> Score:
        expected = final_number(input.reference or "")
        if expected is None:
            return self.failed("the reference holds no number")
        got = final_number(input.answer)
        if got is None:
            return self.scored(0.0, detail="no number in the answer")
        equal = abs(got - expected) <= self.tolerance
        relation = "equals" if equal else "differs from"
        return self.scored(
            float(equal), raw=float(got), detail=f"{format_number(got)} {relation} {format_number(expected)}"
        )
