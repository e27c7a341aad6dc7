import json

import pytest

from analytics.scorers import JUDGE_CACHE, LruCache, ScoreInput, scorer_build
from analytics.scorers.judge import DEFAULT_RUBRIC, DEFAULT_RUBRIC_VERSION, judge_messages, parse_rating
from routing.providers.base import ProviderError

INPUT = ScoreInput(prompt="What is 2 + 2?", answer="4", reference="4")


class FakeJudge:
    """A judge model's side of the call: replies in turn (an exception is raised), and records each call."""

    def __init__(self, *replies):
        self.replies = list(replies)
        self.calls: list[list[dict]] = []

    def __call__(self, messages):
        self.calls.append(messages)
        reply = self.replies[min(len(self.calls), len(self.replies)) - 1]
        if isinstance(reply, BaseException):
            raise reply
        return reply


def judge(fake: FakeJudge, cache=None, **options):
    return scorer_build(
        "llm_judge", complete=fake, judge="openai/gpt-4o", cache={} if cache is None else cache, **options
    )


@pytest.mark.parametrize(
    ("reply", "rating"),
    [
        ('{"score": 7}', 7),
        ('{"reason": "Correct and direct.", "score": 9}', 9),
        ('```json\n{"reason": "fine", "score": "8"}\n```', 8),
        ("Score: 7/10", 7),
        ("7", 7),
        ("**8**", 8),
        ("Rating: 9 out of 10", 9),
        ("The answer is right but terse. Rating: [[6]]", 6),  # MT-Bench's format
        ("I would give this a 7.5 out of 10.", 7.5),
        ("Correctness score: 8. Helpfulness score: 6. Overall score: 7", 7),
        ("The answer takes 3 steps. Score: 6", 6),
        ("**Rating**: **8**", 8),
        ("An overall score of 7", 7),
        ("10/10", 10),
        ("Score: 1", 1),
    ],
)
def test_the_rating_is_read_from_json_labels_fractions_brackets_and_bare_numbers(reply, rating):
    assert parse_rating(reply) == (rating, "")


def test_every_recorded_mt_bench_judgement_parses_to_its_recorded_score(routellm):
    with open(routellm / "mt_bench" / "judgements.jsonl") as file:
        judgements = [json.loads(line) for line in file]
    assert len(judgements) == 320
    assert [parse_rating(j["judgment"])[0] for j in judgements] == [j["score"] for j in judgements]


def test_a_rating_becomes_a_value_from_zero_at_one_to_one_at_ten():
    assert judge(FakeJudge('{"score": 10}')).score(INPUT).value == 1.0
    assert judge(FakeJudge('{"score": 1}')).score(INPUT).value == 0.0
    score = judge(FakeJudge("Score: 7/10")).score(INPUT)
    assert (score.status, score.value, score.raw) == ("scored", pytest.approx(6 / 9), 7.0)
    assert score.detail == "openai/gpt-4o rated 7/10"


@pytest.mark.parametrize(
    ("reply", "detail"),
    [
        ("The answer seems fine overall.", 'the judge returned no rating: "The answer seems fine overall."'),
        ("asdf {]] lorem ipsum", 'the judge returned no rating: "asdf {]] lorem ipsum"'),
        ("The score of the game was 3-1.", 'the judge returned no rating: "The score of the game was 3-1."'),
        (
            "I'm sorry, but I can't help with that.",
            "the judge refused: \"I'm sorry, but I can't help with that.\"",
        ),
        ("I can't help with that", 'the judge refused: "I can\'t help with that"'),
        ('{"score": 11}', "the judge's rating 11 is outside 1-10"),
        ("Score: 0/10", "the judge's rating 0 is outside 1-10"),
        ("42", "the judge's rating 42 is outside 1-10"),
        ("Score: -3", "the judge's rating -3 is outside 1-10"),
        ("Score: 4/5", 'the judge rated on a scale of 5, not 10: "Score: 4/5"'),
        ('{"score": true}', 'the judge returned no rating: "{\\"score\\": true}"'),
        ("   \n", "the judge returned an empty reply"),
        (None, "the judge returned NoneType, not text"),
    ],
)
def test_garbage_refusals_and_ratings_off_the_scale_are_recorded_as_failed(reply, detail):
    score = judge(FakeJudge(reply)).score(INPUT)
    assert (score.status, score.value, score.detail) == ("failed", None, detail)


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (TimeoutError(), "the judge timed out"),
        (TimeoutError("no reply in 30 s"), "the judge timed out: no reply in 30 s"),
        (
            ProviderError("read timed out", kind="timeout", retryable=True),
            "the judge timed out: read timed out",
        ),
        (
            ProviderError("HTTP 429", kind="rate_limit", status=429),
            "the judge call failed (rate_limit): HTTP 429",
        ),
        (ProviderError("HTTP 401", kind="auth", status=401), "the judge call failed (auth): HTTP 401"),
        (RuntimeError("adapter misconfigured"), "the judge call raised RuntimeError: adapter misconfigured"),
    ],
)
def test_a_judge_call_that_raises_is_recorded_as_failed_never_raised(error, detail):
    score = judge(FakeJudge(error)).score(INPUT)
    assert (score.status, score.value, score.detail) == ("failed", None, detail)


def test_the_same_prompt_answer_and_judge_are_judged_once():
    fake, cache = FakeJudge('{"score": 8}'), {}
    first, second = judge(fake, cache).score(INPUT), judge(fake, cache).score(INPUT)
    assert len(fake.calls) == 1
    assert (first.value, second.value) == (pytest.approx(7 / 9), pytest.approx(7 / 9))
    assert second.detail == "openai/gpt-4o rated 8/10 (cached)"


def test_another_answer_judge_or_rubric_is_judged_anew():
    fake, cache = FakeJudge('{"score": 8}'), {}
    judge(fake, cache).score(INPUT)
    judge(fake, cache).score(ScoreInput(prompt=INPUT.prompt, answer="four"))
    scorer_build("llm_judge", complete=fake, judge="anthropic/claude-opus", cache=cache).score(INPUT)
    judge(fake, cache, rubric="Rate brevity only.").score(INPUT)
    assert len(fake.calls) == 4


def test_failures_are_not_cached_so_a_timed_out_judgement_is_retried():
    fake, cache = FakeJudge(TimeoutError(), '{"score": 9}'), {}
    assert judge(fake, cache).score(INPUT).status == "failed"
    assert judge(fake, cache).score(INPUT).raw == 9.0
    assert len(fake.calls) == 2


def test_a_cache_that_stores_bytes_like_redis_works():
    class BytesCache(dict):
        def __setitem__(self, key, value):
            super().__setitem__(key, str(value).encode())

    fake, cache = FakeJudge("Score: 6.5/10"), BytesCache()
    judge(fake, cache).score(INPUT)
    assert judge(fake, cache).score(INPUT).raw == 6.5
    assert len(fake.calls) == 1


def test_a_broken_cache_costs_a_judge_call_not_the_score():
    class DownCache(dict):
        def get(self, key, default=None):
            raise ConnectionError("redis is down")

        def __setitem__(self, key, value):
            raise ConnectionError("redis is down")

    assert judge(FakeJudge('{"score": 5}'), DownCache()).score(INPUT).raw == 5.0


def test_the_default_cache_is_the_process_wide_lru():
    scorer = scorer_build("llm_judge", complete=FakeJudge("7"), judge="openai/gpt-4o")
    assert scorer.cache is JUDGE_CACHE


def test_the_lru_cache_forgets_the_least_recently_used_key():
    cache = LruCache(maxsize=2)
    cache["a"], cache["b"] = 1, 2
    assert cache["a"] == 1
    cache["c"] = 3
    assert sorted(cache) == ["a", "c"]


def test_the_prompt_carries_the_rubric_request_reference_and_answer():
    system, user = judge_messages(INPUT)
    assert DEFAULT_RUBRIC in system["content"] and '"score"' in system["content"]
    assert user["content"] == (
        "<request>\nWhat is 2 + 2?\n</request>\n<reference_answer>\n4\n</reference_answer>\n"
        "<answer>\n4\n</answer>"
    )
    assert "<reference_answer>" not in judge_messages(ScoreInput(prompt="p", answer="a"))[1]["content"]


def test_a_custom_rubric_reaches_the_judge_and_versions_the_score():
    fake = FakeJudge("8")
    default = judge(FakeJudge("8")).score(INPUT)
    custom = judge(fake, rubric="Rate only how polite the answer is.").score(INPUT)
    named = judge(FakeJudge("8"), rubric="Rate politeness.", rubric_version="polite-2").score(INPUT)
    assert "Rate only how polite the answer is." in fake.calls[0][0]["content"]
    assert default.version == f"1+{DEFAULT_RUBRIC_VERSION}"
    assert custom.version.startswith("1+custom-") and named.version == "1+polite-2"


def test_a_judge_option_that_cannot_work_is_refused_when_built():
    with pytest.raises(ValueError, match="complete must be a callable"):
        scorer_build("llm_judge", complete="gpt-4o", judge="openai/gpt-4o")
    with pytest.raises(ValueError, match="judge must name the judge model"):
        scorer_build("llm_judge", complete=FakeJudge("7"), judge="")
