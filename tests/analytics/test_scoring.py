"""Online scoring: a route's scoring settings, call_score, the judge's sampling, and the worker end to end."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
from django.core.exceptions import ValidationError

from analytics import selectors
from analytics.judge_cache import judge_cache
from analytics.models import Score
from analytics.scorers import SCORERS, LlmJudge, ScoreInput, Scorer
from analytics.scorers.recorded import RecordedQuality
from analytics.scoring_config import JudgeSettings
from analytics.services import call_score, score_input, stored_version
from analytics.tasks import score_calls_task
from routing import services
from routing.gateway.recorder import calls_flush
from routing.models import Call
from routing.policies.cascade import answer_confidence
from routing.policies.text import estimate_tokens
from routing.policies.types import RouteRequest
from tests.factories import CallFactory
from tests.waiting import eventually

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]
WITH_REGEX = {
    "scorers": ["heuristic_confidence", "recorded_quality", "regex"],
    "options": {"regex": {"pattern": "Paris"}},
}
JUDGE_MODEL = "simulator/gpt-4o"


def _ask(client, auth, messages=FRANCE) -> str:
    response = client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": messages}),
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 200, response.content
    return response["x-routelab-decision-id"]


def _answered_call(client, live_route) -> Call:
    call_id = _ask(client, live_route.auth)
    calls_flush()
    return Call.objects.get(id=call_id)


def _set_scoring(route, scoring: dict) -> None:
    services.route_update(route=route, scoring=scoring)


def _by_scorer(rows) -> dict[str, Score]:
    return {row.scorer: row for row in rows}


def _call(route, **fields) -> Call:
    defaults = {"prompt": "What is the capital of France?", "answer": "The capital of France is Paris."}
    return CallFactory(route=route, **{**defaults, **fields})


# -- what runs -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_configured_scorers_each_write_one_row_for_an_answered_call(client, live_route):
    _set_scoring(live_route.route, WITH_REGEX)
    call = _answered_call(client, live_route)

    rows = _by_scorer(call_score(call_id=call.id))

    assert sorted(rows) == ["heuristic_confidence", "recorded_quality", "regex"]
    assert call.provider_quality is not None
    assert rows["recorded_quality"].value == call.provider_quality
    request = RouteRequest(text=call.prompt, input_tokens=estimate_tokens(call.prompt))
    assert rows["heuristic_confidence"].value == pytest.approx(answer_confidence(call.answer, request))
    assert rows["regex"].value == float(re.search("Paris", call.answer) is not None)
    assert all(row.status == "scored" and row.source == "online" for row in rows.values())
    assert Score.objects.filter(call=call).count() == 3


@pytest.mark.django_db
def test_known_answers_get_known_scores(live_route):
    _set_scoring(live_route.route, WITH_REGEX)
    call = _call(live_route.route, provider_quality=0.42)

    rows = _by_scorer(call_score(call_id=call.id))

    assert rows["regex"].value == 1.0 and rows["regex"].raw == "Paris"
    assert rows["recorded_quality"].value == 0.42
    assert 0.0 <= rows["heuristic_confidence"].value <= 1.0


@pytest.mark.django_db
def test_a_route_without_scoring_settings_gets_the_default_scorers(live_route):
    call = _call(live_route.route, provider_quality=0.9)

    rows = _by_scorer(call_score(call_id=call.id))

    assert sorted(rows) == ["heuristic_confidence", "recorded_quality"]
    assert rows["recorded_quality"].value == 0.9


@pytest.mark.django_db
def test_a_call_without_a_recorded_quality_is_skipped_by_that_scorer(live_route):
    call = _call(live_route.route, provider_quality=None)

    rows = _by_scorer(call_score(call_id=call.id))

    assert rows["recorded_quality"].status == "skipped"
    assert rows["recorded_quality"].value is None
    assert rows["recorded_quality"].detail == "the provider recorded no quality"


@pytest.mark.django_db
def test_the_reference_in_the_call_metadata_reaches_the_scorers(live_route):
    _set_scoring(live_route.route, {"scorers": ["exact_match"]})
    right = _call(live_route.route, answer="Paris", metadata={"reference": "Paris"})
    wrong = _call(live_route.route, answer="Lyon", metadata={"reference": "Paris"})

    assert score_input(right).reference == "Paris"
    assert call_score(call_id=right.id)[0].value == 1.0
    assert call_score(call_id=wrong.id)[0].value == 0.0


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["error", "decided"])
def test_calls_that_did_not_end_ok_are_not_scored(live_route, status):
    call = _call(live_route.route, status=status)

    assert call_score(call_id=call.id) == []
    assert not Score.objects.filter(call=call).exists()


@pytest.mark.django_db
def test_an_unknown_call_id_scores_nothing():
    assert call_score(call_id=uuid.uuid4()) == []


@pytest.mark.parametrize(
    ("quality", "status", "value", "detail"),
    [
        (0.0, "scored", 0.0, ""),
        (1, "scored", 1.0, ""),
        (None, "skipped", None, "the provider recorded no quality"),
        (1.5, "failed", None, "the recorded quality 1.5 is outside [0, 1]"),
        (float("nan"), "failed", None, "the recorded quality nan is not a number"),
        ("0.8", "failed", None, "the recorded quality '0.8' is not a number"),
    ],
)
def test_the_recorded_quality_scorer_passes_on_a_quality_in_range_and_nothing_else(
    quality, status, value, detail
):
    score = RecordedQuality().score(
        ScoreInput(prompt="q", answer="a", metadata={"provider_quality": quality})
    )

    assert (score.status, score.value, score.detail) == (status, value, detail)


# -- idempotence and failures ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_scoring_a_call_twice_writes_nothing_new(live_route):
    _set_scoring(live_route.route, WITH_REGEX)
    call = _call(live_route.route, provider_quality=0.5)

    first = call_score(call_id=call.id)
    before = {(row.scorer, row.version): (row.id, row.value) for row in Score.objects.filter(call=call)}
    second = call_score(call_id=call.id)
    assert score_calls_task([str(call.id)]) == 0  # a redelivered task

    assert len(first) == 3 and second == []
    after = {(row.scorer, row.version): (row.id, row.value) for row in Score.objects.filter(call=call)}
    assert after == before


@pytest.mark.django_db
def test_a_scorer_added_later_scores_only_what_is_missing(live_route):
    call = _call(live_route.route, provider_quality=0.5)
    call_score(call_id=call.id)
    _set_scoring(live_route.route, WITH_REGEX)

    rows = call_score(call_id=call.id)

    assert [row.scorer for row in rows] == ["regex"]
    assert Score.objects.filter(call=call).count() == 3


class Exploding(Scorer):
    name = "exploding"

    def evaluate(self, input):
        raise ZeroDivisionError("division by zero")


@pytest.mark.django_db
def test_a_scorer_that_raises_is_recorded_as_failed_and_the_others_still_run(live_route, monkeypatch):
    monkeypatch.setitem(SCORERS, "exploding", Exploding)
    _set_scoring(live_route.route, {"scorers": ["exploding", "recorded_quality"]})
    call = _call(live_route.route, provider_quality=0.7)

    rows = _by_scorer(call_score(call_id=call.id))

    assert rows["exploding"].status == "failed" and rows["exploding"].value is None
    assert rows["exploding"].detail == "the scorer raised ZeroDivisionError: division by zero"
    assert rows["recorded_quality"].value == 0.7


@pytest.mark.django_db
def test_settings_stored_before_validation_are_recorded_as_misconfigured(live_route):
    # Written behind the services' back, as settings saved before validation existed might be.
    type(live_route.route).objects.filter(id=live_route.route.id).update(scoring={"scorers": ["regex"]})
    call = _call(live_route.route)

    [row] = call_score(call_id=call.id)

    assert row.scorer == "regex" and row.status == "failed"
    assert row.detail.startswith("misconfigured: scorer 'regex': missing pattern")


# -- the judge ---------------------------------------------------------------------------------------------


def _judged(route, rate: float, count: int = 6) -> list[list[Score]]:
    _set_scoring(
        route, {"scorers": ["recorded_quality"], "judge": {"model": JUDGE_MODEL, "sample_rate": rate}}
    )
    calls = [_call(route, provider_quality=0.5) for _ in range(count)]
    return [[row for row in call_score(call_id=call.id) if row.scorer == "llm_judge"] for call in calls]


@pytest.mark.django_db
def test_at_sample_rate_zero_no_call_is_judged(live_route):
    assert _judged(live_route.route, 0.0) == [[]] * 6
    assert not Score.objects.filter(scorer="llm_judge").exists()


@pytest.mark.django_db
def test_at_sample_rate_one_every_call_is_judged_and_a_garbage_reply_is_recorded_as_failed(live_route):
    judged = _judged(live_route.route, 1.0)

    assert all(len(rows) == 1 for rows in judged)
    for [row] in judged:
        assert row.status == "failed" and row.value is None
        assert row.detail.startswith(("the judge returned no rating", "the judge refused"))
        assert row.version == stored_version("1+helpful-correct-1")


def test_a_version_too_long_for_its_column_is_cut_with_a_hash_so_versions_stay_distinct():
    long_versions = ["1+helpful-correct-1", "1+helpful-correct-2", "1+custom-0123456789ab"]

    stored = [stored_version(version) for version in long_versions]

    assert len(set(stored)) == 3
    assert all(len(version) <= Score._meta.get_field("version").max_length for version in stored)
    assert stored_version("1") == "1"


def test_the_judge_samples_calls_by_the_first_32_bits_of_their_id():
    half = JudgeSettings(model=JUDGE_MODEL, sample_rate=0.5)

    assert half.samples("7fffffff" + "0" * 24)
    assert not half.samples("80000000" + "0" * 24)
    assert JudgeSettings(model=JUDGE_MODEL, sample_rate=1.0).samples("f" * 32)
    assert not JudgeSettings(model=JUDGE_MODEL, sample_rate=0.0).samples("0" * 32)
    quarter = JudgeSettings(model=JUDGE_MODEL, sample_rate=0.25)
    evenly_spread = [f"{i * 2**32 // 1000:08x}" + "0" * 24 for i in range(1000)]
    assert sum(quarter.samples(call_hex) for call_hex in evenly_spread) == 250


@pytest.mark.django_db
def test_a_rating_in_the_redis_cache_is_used_without_asking_the_judge(live_route):
    _set_scoring(live_route.route, {"scorers": [], "judge": {"model": JUDGE_MODEL, "sample_rate": 1}})
    call = _call(live_route.route)
    key = LlmJudge(complete=lambda messages: "", judge=JUDGE_MODEL).cache_key(score_input(call))
    judge_cache[key] = "8"

    [row] = call_score(call_id=call.id)

    assert row.status == "scored"
    assert row.value == pytest.approx(7 / 9)
    assert row.raw == 8.0
    assert row.detail == f"{JUDGE_MODEL} rated 8/10 (cached)"


@pytest.mark.django_db
def test_a_judge_model_disabled_since_is_recorded_as_failed(live_route):
    _set_scoring(live_route.route, {"scorers": [], "judge": {"model": JUDGE_MODEL, "sample_rate": 1}})
    judge = next(model for model in live_route.models if model.key == JUDGE_MODEL)
    services.model_update(model=judge, enabled=False)
    call = _call(live_route.route)

    [row] = call_score(call_id=call.id)

    assert row.status == "failed"
    assert "not registered or is disabled" in row.detail


# -- the scoring settings ----------------------------------------------------------------------------------

BAD_SETTINGS = [
    ({"scorers": ["heuristic_confidence", "x"]}, "scoring.scorers[1]: unknown scorer 'x'"),
    ({"scorers": "regex"}, "scoring.scorers: must be a list"),
    ({"scorers": ["regex"]}, "scoring.options.regex: scorer 'regex': missing pattern"),
    ({"scorers": ["regex"], "options": {"regex": {"pattern": "("}}}, "scoring.options.regex: regex: pattern"),
    ({"scorers": ["regex"], "options": {"regex": {"pattern": "a", "colour": 1}}}, "scoring.options.regex"),
    ({"options": {"regex": {"pattern": "a"}}}, "scoring.options.regex: 'regex' is not in scoring.scorers"),
    ({"scorers": ["json_valid", "json_valid"]}, "scoring.scorers[1]: 'json_valid' is listed twice"),
    ({"scorers": ["llm_judge"]}, "scoring.scorers[0]: configure the LLM judge under scoring.judge"),
    ({"scorers": ["user_feedback"]}, "scoring.scorers[0]: user_feedback comes from the feedback API"),
    ({"judge": {"model": "simulator/nope", "sample_rate": 0.1}}, "scoring.judge.model: unknown or disabled"),
    ({"judge": {"model": "gpt-4o", "sample_rate": 0.1}}, "scoring.judge.model: must name a model"),
    ({"judge": {"model": JUDGE_MODEL, "sample_rate": 1.5}}, "scoring.judge.sample_rate: must be a number"),
    ({"judge": {"model": JUDGE_MODEL}}, "scoring.judge.sample_rate: must be a number from 0 to 1, not None"),
    ({"judge": {"model": JUDGE_MODEL, "sample_rate": 0.1, "rubric": " "}}, "scoring.judge.rubric: must be"),
    ({"judges": {}}, "scoring.judges: unknown setting"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("scoring", "message"), BAD_SETTINGS)
def test_bad_scoring_settings_are_refused_naming_the_field(live_route, scoring, message):
    with pytest.raises(ValidationError) as raised:
        services.route_update(route=live_route.route, scoring=scoring)

    assert raised.value.message_dict["scoring"][0].startswith(message)


@pytest.mark.django_db
def test_a_new_route_with_bad_scoring_settings_is_not_created():
    with pytest.raises(ValidationError, match=r"scoring\.scorers\[0\]: unknown scorer 'nope'"):
        services.route_create(name="graded", scoring={"scorers": ["nope"]})


@pytest.mark.django_db
def test_the_routes_api_answers_bad_scoring_settings_with_a_400_naming_the_field(staff_api, live_route):
    response = staff_api.patch(
        "/api/v1/routes/support-bot", {"scoring": {"scorers": ["regex", "x"]}}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"]["scoring"][0].startswith("scoring.scorers[1]: unknown scorer")


@pytest.mark.django_db
def test_good_scoring_settings_are_saved(live_route):
    scoring = {**WITH_REGEX, "judge": {"model": JUDGE_MODEL, "sample_rate": 0.1, "rubric": "Be strict."}}
    services.route_update(route=live_route.route, scoring=scoring)

    live_route.route.refresh_from_db()
    assert live_route.route.scoring == scoring


# -- reading scores ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_summary_gives_each_scorers_count_and_mean(live_route):
    for quality in (0.2, 0.4, 0.9):
        call_score(call_id=_call(live_route.route, provider_quality=quality).id)
    call_score(call_id=_call(live_route.route, provider_quality=None).id)  # skipped: not counted

    summary = {row["scorer"]: row for row in selectors.score_summary(route=live_route.route)}

    assert summary["recorded_quality"]["n"] == 3
    assert summary["recorded_quality"]["mean"] == pytest.approx(0.5)
    assert summary["heuristic_confidence"]["n"] == 4
    assert selectors.score_summary(route=services.route_create(name="quiet")) == []


@pytest.mark.django_db
def test_a_calls_scores_are_listed_by_scorer(live_route):
    call = _call(live_route.route, provider_quality=0.3)
    call_score(call_id=call.id)

    assert [row.scorer for row in selectors.call_scores(call=call)] == [
        "heuristic_confidence",
        "recorded_quality",
    ]


@pytest.mark.django_db
def test_staff_can_read_scores_in_the_admin_but_not_change_them(client, staff_user, live_route):
    call = _call(live_route.route, provider_quality=0.3)
    call_score(call_id=call.id)
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)

    listing = client.get("/admin/analytics/score/?status__exact=scored&scorer=recorded_quality")
    score = Score.objects.get(call=call, scorer="recorded_quality")
    detail = client.get(f"/admin/analytics/score/{score.id}/change/")

    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    assert detail.status_code == 200 and not detail.context["has_change_permission"]
    assert client.get("/admin/analytics/score/add/").status_code == 403
    assert client.get(f"/admin/analytics/score/?q={call.id.hex[:8]}").context["cl"].result_count == 2


# -- end to end --------------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_calls_through_the_gateway_are_scored_by_a_real_worker(client, live_route, celery_worker_thread):
    _set_scoring(live_route.route, WITH_REGEX)
    for _ in range(4):
        _ask(client, live_route.auth)
    decided = client.post(
        "/api/v1/route",
        data=json.dumps({"messages": FRANCE}),
        content_type="application/json",
        **live_route.auth,
    )
    assert decided.status_code == 200

    assert calls_flush() == 5

    ok_calls = list(Call.objects.filter(status="ok"))
    assert len(ok_calls) == 4
    assert eventually(lambda: Score.objects.filter(call__in=ok_calls).count() == 3 * len(ok_calls))
    for call in ok_calls:
        rows = _by_scorer(selectors.call_scores(call=call))
        assert sorted(rows) == ["heuristic_confidence", "recorded_quality", "regex"]
        assert rows["recorded_quality"].value == call.provider_quality
    time.sleep(0.5)  # nothing else is coming: the decided-only call is never scored
    assert not Score.objects.filter(call_id=decided.json()["decision_id"]).exists()
