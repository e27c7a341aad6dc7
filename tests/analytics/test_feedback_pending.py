"""Feedback on a call still on its way to PostgreSQL is held (202) and applied when the call is stored,
by a real worker after the recorder's flush; the request itself never flushes."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import PendingFeedback, Score
from analytics.services import feedback_apply_pending, feedback_hold, feedback_pending_purge
from routing import services
from routing.gateway.recorder import calls_flush, calls_waiting
from routing.models import Call
from tests.waiting import eventually

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def _answered(client, auth) -> str:
    response = client.post(
        "/v1/chat/completions", data=json.dumps({"messages": FRANCE}), content_type="application/json", **auth
    )
    assert response.status_code == 200, response.content
    return response["x-routelab-decision-id"]


def _feedback(client, call_id: str, body: dict, auth):
    return client.post(
        f"/api/v1/calls/{call_id}/feedback", data=json.dumps(body), content_type="application/json", **auth
    )


def _feedback_scores(call_id) -> list[Score]:
    return list(Score.objects.filter(call_id=call_id, scorer="user_feedback"))


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_feedback_before_the_call_is_stored_is_held_then_applied_by_a_worker(
    client, live_route, celery_worker_thread
):
    call_id = _answered(client, live_route.auth)

    response = _feedback(client, call_id, {"rating": 5, "comment": "spot on"}, live_route.auth)

    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    assert calls_waiting() == 1, "the request must not flush the call records"
    assert not Call.objects.filter(id=call_id).exists()
    assert PendingFeedback.objects.filter(call_id=call_id).count() == 1

    assert calls_flush() == 1
    assert eventually(lambda: len(_feedback_scores(call_id)) == 1, timeout=10.0, interval=0.1)
    [score] = _feedback_scores(call_id)
    assert score.value == 1.0
    assert score.raw == {"kind": "rating", "value": 5, "comment": "spot on"}
    assert not PendingFeedback.objects.exists()


@pytest.mark.django_db
def test_held_feedback_from_a_key_of_another_route_is_dropped_not_applied(client, live_route):
    call_id = _answered(client, live_route.auth)
    other = services.route_create(name="other-bot")
    feedback_hold(call_id=uuid.UUID(call_id), route_ids=[other.id], kind="thumbs", value="up")
    calls_flush()

    assert feedback_apply_pending(call_ids=[call_id]) == 0
    assert _feedback_scores(call_id) == []
    assert not PendingFeedback.objects.exists()


@pytest.mark.django_db
def test_feedback_held_just_as_its_call_was_stored_is_applied_at_once(client, live_route):
    call_id = _answered(client, live_route.auth)
    calls_flush()  # stored after the endpoint looked, before the feedback was held

    feedback_hold(call_id=uuid.UUID(call_id), route_ids=[live_route.route.id], kind="thumbs", value="down")

    assert [score.value for score in _feedback_scores(call_id)] == [0.0]
    assert not PendingFeedback.objects.exists()


@pytest.mark.django_db
def test_held_feedback_never_overrides_newer_feedback(client, live_route):
    call_id = _answered(client, live_route.auth)
    PendingFeedback.objects.create(
        call_id=call_id, route_ids=[live_route.route.id], kind="thumbs", value="down", comment=""
    )
    PendingFeedback.objects.filter(call_id=call_id).update(created_at=timezone.now() - timedelta(minutes=5))
    calls_flush()
    assert _feedback(client, call_id, {"thumbs": "up"}, live_route.auth).status_code == 201

    assert feedback_apply_pending(call_ids=[call_id]) == 0
    assert [score.value for score in _feedback_scores(call_id)] == [1.0]


@pytest.mark.django_db
def test_an_unknown_call_is_still_a_404_and_nothing_is_held(client, live_route):
    response = _feedback(client, uuid.uuid4().hex, {"thumbs": "up"}, live_route.auth)

    assert response.status_code == 404
    assert not PendingFeedback.objects.exists()


@pytest.mark.django_db
def test_held_feedback_whose_call_never_arrives_is_purged_after_a_day(live_route):
    feedback_hold(call_id=uuid.uuid4(), route_ids=[live_route.route.id], kind="rating", value=3)
    fresh = feedback_hold(call_id=uuid.uuid4(), route_ids=[live_route.route.id], kind="rating", value=4)
    assert fresh is None and PendingFeedback.objects.count() == 2
    PendingFeedback.objects.filter(value=3).update(created_at=timezone.now() - timedelta(days=2))

    assert feedback_pending_purge() == 1
    assert list(PendingFeedback.objects.values_list("value", flat=True)) == [4]


@pytest.mark.django_db
def test_holding_invalid_feedback_is_refused(live_route):
    with pytest.raises(ValueError):
        feedback_hold(call_id=uuid.uuid4(), route_ids=[live_route.route.id], kind="rating", value=9)
    assert not PendingFeedback.objects.exists()
