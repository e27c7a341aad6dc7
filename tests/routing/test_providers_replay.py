"""The replay provider serving recorded answers: the real GSM8K data through the database, and edge cases."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync

from experiments.selectors import RecordedAnswerData, recorded_answer_lookup
from experiments.services import dataset_import
from routing.providers.base import (
    ChatRequest,
    CompletionResult,
    ModelTarget,
    Price,
    ProviderError,
    StreamDelta,
)
from routing.providers.replay import ReplayAdapter, split_pieces
from tests.datasets import datasets_dir, require_dataset
from tests.streams import stream_events

STRONG = "gpt-4-1106-preview"
DUCKS = (
    "Janet’s ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
    "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
    "egg. How much in dollars does she make every day at the farmers' market?"
)
PRICE = Price(Decimal("10"), Decimal("30"))


@pytest.fixture(scope="session")
def gsm8k_path() -> Path:
    return require_dataset(datasets_dir() / "routellm" / "gsm8k" / "gsm8k_responses.csv")


@pytest.fixture
def gsm8k(db, gsm8k_path):
    return dataset_import(name="gsm8k", path=gsm8k_path)


@pytest.fixture
def adapter():
    return ReplayAdapter(lookup=recorded_answer_lookup)


def target(model: str = STRONG, dataset: str = "gsm8k") -> ModelTarget:
    return ModelTarget("replay", "", model, PRICE, options={"dataset": dataset})


def ask(prompt: str, *earlier: dict) -> ChatRequest:
    return ChatRequest(messages=(*earlier, {"role": "user", "content": prompt}))


def fixed_lookup(record: RecordedAnswerData | None):
    return lambda dataset, model, prompt: record


# -- the real GSM8K answers ----------------------------------------------------------------------------------


def test_replay_returns_gpt4s_recorded_gsm8k_answer_with_its_correctness_as_quality(gsm8k, adapter):
    request = ask(DUCKS, {"role": "system", "content": "Solve it."})

    result = adapter.complete(target(), request)

    assert "$18" in result.text and result.quality == 1.0
    assert (result.model, result.finish_reason, result.attempts) == (STRONG, "stop", 1)
    assert result.input_tokens == math.ceil((len("Solve it.") + len(DUCKS)) / 4)
    assert result.output_tokens == math.ceil(len(result.text) / 4)
    assert result.cost == PRICE.cost(result.input_tokens, result.output_tokens) > 0
    assert result.latency_ms >= 0 and result.ttft_ms == result.latency_ms


def test_replay_finds_the_prompt_in_the_last_user_message_given_as_text_parts(gsm8k, adapter):
    parts = [{"type": "text", "text": DUCKS[:40]}, {"type": "text", "text": DUCKS[40:]}]
    request = ChatRequest(
        messages=({"role": "user", "content": "old question"}, {"role": "user", "content": parts})
    )

    assert "$18" in adapter.complete(target(), request).text


def test_replay_streams_the_recorded_answer_in_pieces_then_the_result(gsm8k, adapter):
    events = stream_events(adapter, target(), ask(DUCKS))

    deltas, result = events[:-1], events[-1]
    assert 2 <= len(deltas) <= 4 and all(isinstance(delta, StreamDelta) for delta in deltas)
    assert isinstance(result, CompletionResult)
    assert (
        "".join(delta.text for delta in deltas) == result.text == adapter.complete(target(), ask(DUCKS)).text
    )
    assert result.quality == 1.0 and result.ttft_ms <= result.latency_ms


def test_replay_answers_from_async_code_through_the_database_in_one_loop(gsm8k, adapter):
    async def complete_and_stream():
        result = await adapter.acomplete(target(), ask(DUCKS))
        events = [event async for event in adapter.astream(target(), ask(DUCKS))]
        return result, events

    result, events = async_to_sync(complete_and_stream)()

    assert "$18" in result.text and result.quality == 1.0
    assert "".join(event.text for event in events[:-1]) == events[-1].text == result.text


def test_an_unknown_prompt_is_a_not_found_error_naming_the_dataset_and_model(gsm8k, adapter):
    with pytest.raises(ProviderError) as raised:
        adapter.complete(target(), ask("What is the airspeed velocity of an unladen swallow?"))

    assert (raised.value.kind, raised.value.retryable) == ("not_found", False)
    assert "'gsm8k'" in raised.value.message and repr(STRONG) in raised.value.message


def test_a_model_absent_from_the_dataset_is_not_found_even_for_a_known_prompt(gsm8k, adapter):
    with pytest.raises(ProviderError, match="'claude-3-haiku'") as raised:
        stream_events(adapter, target(model="claude-3-haiku"), ask(DUCKS))

    assert raised.value.kind == "not_found"


# -- without the database ------------------------------------------------------------------------------------


def test_a_judge_score_is_normalised_by_the_datasets_quality_scale():
    replay = ReplayAdapter(lookup=fixed_lookup(RecordedAnswerData("Aloha!", 8.5, 10.0, 1)))

    assert replay.complete(target(), ask("Blog post about Hawaii")).quality == 0.85


def test_a_recorded_quality_without_answer_text_replays_empty_text_and_the_quality():
    replay = ReplayAdapter(lookup=fixed_lookup(RecordedAnswerData("", 0.0, 1.0, 1)))

    events = stream_events(replay, target(), ask("Which bone?"))

    assert len(events) == 1 and (events[0].text, events[0].quality, events[0].output_tokens) == ("", 0.0, 0)


def test_a_request_without_a_user_message_or_a_target_without_a_dataset_is_a_bad_request():
    replay = ReplayAdapter(lookup=fixed_lookup(RecordedAnswerData("x", 1.0, 1.0, 1)))

    with pytest.raises(ProviderError, match="user message") as no_user:
        replay.complete(target(), ChatRequest(messages=({"role": "system", "content": "Be brief."},)))
    with pytest.raises(ProviderError, match="names its dataset") as no_dataset:
        replay.complete(ModelTarget("replay", "", STRONG, PRICE), ask("Hi"))

    assert {no_user.value.kind, no_dataset.value.kind} == {"bad_request"}


def test_the_lookup_receives_the_dataset_the_model_and_the_last_user_prompt():
    calls = []
    replay = ReplayAdapter(lookup=lambda *args: calls.append(args) or RecordedAnswerData("ok", None, 1.0, 1))

    result = replay.complete(
        target(model="m", dataset="set"), ask("second", {"role": "user", "content": "first"})
    )

    assert calls == [("set", "m", "second")] and result.quality is None


def test_split_pieces_cuts_text_into_at_most_n_consecutive_pieces():
    assert split_pieces("abcdefghij", 4) == ["abc", "def", "ghi", "j"]
    assert split_pieces("ab", 4) == ["a", "b"]
    assert split_pieces("", 4) == []
