"""Multiple choice: the letter an answer picks, against the reference letter.

Where an answer names a letter, in order of trust: after "answer", "option" or "choice" ("The answer is
(B)", "Answer: c", "**Answer:** D", "the correct option is C"); in bold ("**D**"); at the very start
("B) Paris", "c"); in parentheses ("... so (B)"). Within one kind the last mention wins, since models
reason first and conclude last. A lower-case letter counts only where it cannot be the article "a" or a
word: before punctuation or at the end of a line.
"""

from __future__ import annotations

import re
from functools import lru_cache

from analytics.scorers.base import Score, ScoreInput, Scorer

LABEL = r"(?i:\b(?:answer|option|choice)\b(?:\s+(?:is|would be|should be|must be))?)[\s:*\-]*"
LABEL_OPTION = r"(?i:(?:option|choice)\s+)?"


@lru_cache(maxsize=16)
def _patterns(choices: str) -> tuple[re.Pattern[str], ...]:
    upper, lower = re.escape(choices.upper()), re.escape(choices.lower())
    letter = rf"(?P<letter>[{upper}](?!\w)|[{lower}](?=\s*(?:[).\]*:,;]|$)))"
    return (
        re.compile(rf"{LABEL}{LABEL_OPTION}[(\[]?{letter}", re.M),
        re.compile(rf"\*\*\(?(?P<letter>[{upper}{lower}])\)?[.):]?\*\*"),
        re.compile(rf"\A\s*[(\[]?(?P<letter>[{upper}{lower}])(?:[).:\]]|\s*\Z)"),
        re.compile(rf"\((?P<letter>[{upper}])\)"),
    )


def chosen_letter(text: str, choices: str = "ABCDE") -> str | None:
    """The upper-case letter the text picks among `choices`, or None when it picks none."""
    for pattern in _patterns(choices):
        matches = list(pattern.finditer(text))
        if matches:
            return matches[-1].group("letter").upper()
    return None


class MultipleChoice(Scorer):
    """1 when the answer picks the reference's letter; `choices` lists the letters in play."""

    name = "multiple_choice"
    needs_reference = True

    def __init__(self, choices: str = "ABCDE"):
        if not (isinstance(choices, str) and choices.isalpha() and choices.isascii() and len(choices) >= 2):
            raise ValueError(
                f"multiple_choice: choices must be two or more letters, such as 'ABCD', not {choices!r}"
            )
        self.choices = choices.upper()

    def evaluate(self, input: ScoreInput) -> Score:
        expected = chosen_letter(input.reference or "", self.choices)
        if expected is None:
            return self.failed(f"the reference picks no letter among {self.choices}")
        got = chosen_letter(input.answer, self.choices)
        if got is None:
            return self.scored(0.0, detail=f"the answer picks no letter among {self.choices}")
        relation = "matches" if got == expected else "differs from"
        return self.scored(float(got == expected), raw=got, detail=f"{got} {relation} {expected}")
