import time

import pytest

from config.json_depth import json_too_deep


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("body", "deep"),
    [
        (_nested(64), False),
        (_nested(65), True),
        (b'{"a": {"b": [1, {"c": []}]}}', False),
        (b'{"text": "' + b"[{" * 5000 + b'"}', False),  # brackets inside a string do not count
        (b'["a \\" [[[[[[", [[[1]]]]', False),  # nor after an escaped quote in that string
        (b'["a\\\\", ' + _nested(70) + b"]", True),  # an escaped backslash ends the string
        (b"[" * 100_000, True),  # unterminated
        (b'"' + b"[" * 100_000, False),  # all inside an unterminated string
        ("[[[[[[[[[[" * 10, True),  # text as well as bytes
    ],
)
def test_only_arrays_and_objects_outside_strings_count_towards_the_depth(body, deep):
    assert json_too_deep(body, 64) is deep


@pytest.mark.parametrize("depth", [1_000, 300_000])
def test_a_very_deep_body_is_found_in_one_fast_pass(depth):
    started = time.perf_counter()
    assert json_too_deep(_nested(depth), 64)
    assert time.perf_counter() - started < 0.5


def test_a_two_megabyte_body_of_quotes_and_escapes_is_scanned_in_linear_time():
    body = b'"\\"' * 700_000  # each quote opens a string that a rescanning matcher would walk to the end
    started = time.perf_counter()
    assert not json_too_deep(body, 64)
    assert time.perf_counter() - started < 2
