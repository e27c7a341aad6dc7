"""The simulator's pure parts: profiles, the difficulty estimate and answer composition."""

from __future__ import annotations

import random
from dataclasses import replace
from decimal import Decimal

import pytest

from devtools.simulator import DEFAULT_PROFILES, estimate_difficulty, profiles_by_name
from devtools.simulator.answers import compose_answer, key_words

MINI, GPT_4O, OPUS = DEFAULT_PROFILES


def test_the_default_ladder_runs_from_cheap_to_premium_at_list_prices():
    assert [(p.name, p.tier) for p in DEFAULT_PROFILES] == [
        ("gpt-4o-mini", "cheap"),
        ("gpt-4o", "mid"),
        ("claude-opus-4-1", "premium"),
    ]
    assert (MINI.input_price_per_mtok, MINI.output_price_per_mtok) == (Decimal("0.15"), Decimal("0.60"))
    assert (GPT_4O.input_price_per_mtok, GPT_4O.output_price_per_mtok) == (Decimal("2.50"), Decimal("10.00"))
    assert (OPUS.input_price_per_mtok, OPUS.output_price_per_mtok) == (Decimal("15.00"), Decimal("75.00"))
    assert (MINI.context_window, GPT_4O.context_window, OPUS.context_window) == (128_000, 128_000, 200_000)
    assert (MINI.max_output_tokens, OPUS.max_output_tokens) == (16_384, 32_000)


def test_pricier_models_are_slower_to_start_and_better_at_every_difficulty():
    assert MINI.ttft_median_ms < GPT_4O.ttft_median_ms < OPUS.ttft_median_ms
    for difficulty in ("simple", "moderate", "complex"):
        assert MINI.quality[difficulty] < GPT_4O.quality[difficulty] < OPUS.quality[difficulty]


def test_default_profiles_inject_no_faults():
    assert all(
        p.error_rate == p.rate_limit_rate == p.timeout_rate == p.cut_stream_rate == 0
        for p in DEFAULT_PROFILES
    )


def test_profiles_by_name_maps_the_served_model_ids_and_rejects_duplicates():
    assert profiles_by_name()["gpt-4o"] is GPT_4O
    with pytest.raises(ValueError, match="unique"):
        profiles_by_name((MINI, MINI))


@pytest.mark.parametrize(
    "change",
    [
        {"tier": "luxury"},
        {"quality": {"simple": 0.9}},
        {"quality": {"simple": 1.2, "moderate": 0, "complex": 0}},
    ],
)
def test_a_profile_rejects_an_unknown_tier_or_bad_quality_mapping(change):
    with pytest.raises(ValueError):
        replace(MINI, **change)


def test_a_profile_rejects_fault_rates_outside_zero_to_one():
    with pytest.raises(ValueError, match="fault rates"):
        replace(MINI, error_rate=1.5)


@pytest.mark.parametrize(
    ("text", "difficulty"),
    [
        ("What is the capital of France?", "simple"),
        ("Translate 'good morning' into Spanish.", "simple"),
        ("Implement a function that reverses a linked list.", "moderate"),
        ("Who wrote Hamlet? When? Where was it first staged?", "moderate"),
        ("Prove that the square root of 2 is irrational, and derive the bound.", "complex"),
        ("Debug this:\n```python\nfor i in range(10) print(i)\n```", "complex"),
        ("Explain step by step how to optimize this query. " + "It scans the whole table. " * 15, "complex"),
    ],
)
def test_difficulty_is_estimated_from_length_code_demanding_words_and_questions(text, difficulty):
    assert estimate_difficulty(text) == difficulty


def test_key_words_skip_stopwords_and_keep_first_appearance_order():
    assert key_words("How does TCP congestion control work with TCP Reno?") == [
        "tcp",
        "congestion",
        "control",
    ]
    assert key_words("hi") == ["the question"]


def test_an_answer_is_fixed_by_its_random_generator_and_capped_by_max_tokens():
    messages = (("user", "Explain vector clocks in distributed systems."),)
    first = compose_answer(OPUS, messages, "moderate", 10_000, random.Random(1))
    again = compose_answer(OPUS, messages, "moderate", 10_000, random.Random(1))
    capped = compose_answer(OPUS, messages, "moderate", 7, random.Random(1))

    assert first == again and first.finish_reason == "stop"
    assert capped.tokens == first.tokens[:7] and capped.finish_reason == "length"
    assert first.text == "".join(first.tokens)
