"""The shared text features: token estimate, keywords, code, maths and the scan window."""

import pytest

from routing.policies.text import (
    SCAN_HEAD_CHARS,
    KeywordMatcher,
    estimate_tokens,
    has_code,
    has_math,
    preview,
    scan_window,
)


def test_the_token_estimate_is_four_characters_per_token_rounded_up():
    assert [estimate_tokens(text) for text in ("", "abc", "abcd", "abcde")] == [0, 1, 1, 2]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Optimize it", ["optimize"]),
        ("we OPTIMIZED and kept optimizing", ["optimized", "optimizing"]),
        ("go step\tby   step", ["step by step"]),
        ("improve the proverb", []),
        ("debugs, debugged", ["debugs", "debugged"]),
        ("the_optimize_flag", []),
        ("use C++ here", ["c++"]),
    ],
)
def test_keywords_match_whole_words_with_simple_inflections(text, found):
    assert KeywordMatcher(["optimize", "step by step", "debug", "c++"]).find(text) == found


def test_keyword_matches_come_in_order_of_first_appearance():
    assert KeywordMatcher(["alpha", "beta"]).find("beta then alpha then beta") == ["beta", "alpha"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("```\nx = 1\n```", True),
        ("~~~\nx = 1\n~~~", True),
        ("Look:\n\n    x = compute(1)\n    print(x)\n", True),
        ("\tif (a) {\n\t\treturn b;\n", True),
        ("A poem:\n    roses are red\n    violets are blue\n", False),
        ("just one line\n    y = 2\nand prose after", False),
        ("plain text", False),
    ],
)
def test_code_is_a_fence_or_two_indented_lines_that_look_like_code(text, code):
    assert has_code(text) is code


@pytest.mark.parametrize(
    ("text", "maths"),
    [
        ("solve x^2 = 4", True),
        ("what is 12 * 7", True),
        ("what is 10 / 2", True),
        ("\\frac{a}{b}", True),
        ("the value $a+b$ here", True),
        ("∑ over all i", True),
        ("find the eigenvalues of this matrix", True),
        ("read and/or write at https://example.com/a/b", False),
        ("it costs $5 and $6", False),
        ("a plain sentence", False),
    ],
)
def test_maths_is_formulas_arithmetic_or_maths_vocabulary(text, maths):
    assert has_math(text) is maths


def test_a_long_text_is_scanned_by_its_head_and_tail_only():
    text = "a" * SCAN_HEAD_CHARS + " middle optimize " + "b" * 10_000 + " end optimize"
    window = scan_window(text)

    assert len(window) < 7_000
    assert window.startswith("aaa") and window.endswith("end optimize")
    assert KeywordMatcher(["optimize"]).find(window) == ["optimize"]
    assert "middle" not in window


def test_a_short_text_is_scanned_whole():
    assert scan_window("short") == "short"


def test_previews_are_one_line_and_bounded():
    assert preview("one\ntwo   three") == "one two three"
    assert len(preview("x" * 500, 40)) == 40
