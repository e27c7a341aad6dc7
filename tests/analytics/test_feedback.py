"""User feedback: POST /api/v1/calls/<call id>/feedback and the feedback_record service."""

from __future__ import annotations

import json
import uuid

import pytest

from analytics.models import Score
from analytics.services import feedback_record
from routing import services
from routing.gateway.recorder import calls_flush
from tests.factories import CallFactory

# Served from this module until config/urls.py includes analytics.urls (then the first match wins).
pytestmark = pytest.mark.django_db

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def _answered(client, live_route, flush: bool = True) -> str:
    response = client.post(
        "/v1/chat/completions",
        data=json.dumps({"messages": FRANCE}),
        content_type="application/json",
        **live_route.auth,
    )
    assert response.status_code == 200, response.content
    if flush:
        calls_flush()
    return response["x-routelab-decision-id"]


def _feedback(client, call_id: str, body, auth):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(
        f"/api/v1/calls/{call_id}/feedback", data=data, content_type="application/json", **auth
    )


def _stored(call_id: str) -> list[Score]:
    return list(Score.objects.filter(call_id=call_id, scorer="user_feedback"))


# -- recording ----------------------------------------------------------------------------------------------


def test_a_thumbs_up_is_stored_as_a_score_of_one(client, live_route):
    call_id = _answered(client, live_route)

    response = _feedback(client, call_id, {"thumbs": "up", "comment": "spot on"}, live_route.auth)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["call_id"] == call_id
    assert (body["scorer"], body["value"], body["status"], body["source"]) == (
        "user_feedback",
        1.0,
        "scored",
        "feedback",
    )
    assert body["raw"] == {"kind": "thumbs", "value": "up", "comment": "spot on"}
    [score] = _stored(call_id)
    assert score.value == 1.0 and score.source == "feedback"


def test_a_thumbs_down_is_stored_as_zero(client, live_route):
    call_id = _answered(client, live_route)

    assert _feedback(client, call_id, {"thumbs": "down"}, live_route.auth).json()["value"] == 0.0


def test_a_rating_of_four_is_stored_as_three_quarters(client, live_route):
    call_id = _answered(client, live_route)

    response = _feedback(client, call_id, {"rating": 4}, live_route.auth)

    assert response.status_code == 201
    assert response.json()["value"] == 0.75
    assert response.json()["raw"] == {"kind": "rating", "value": 4, "comment": ""}


def test_the_latest_feedback_wins(client, live_route):
    call_id = _answered(client, live_route)
    assert _feedback(client, call_id, {"thumbs": "up"}, live_route.auth).status_code == 201

    response = _feedback(client, call_id, {"rating": 2, "comment": "on reflection"}, live_route.auth)

    assert response.status_code == 200
    [score] = _stored(call_id)
    assert score.value == 0.25
    assert score.raw == {"kind": "rating", "value": 2, "comment": "on reflection"}


def test_the_dashed_form_of_a_call_id_is_accepted_too(client, live_route):
    call_id = _answered(client, live_route)

    response = _feedback(client, str(uuid.UUID(call_id)), {"thumbs": "up"}, live_route.auth)

    assert response.status_code == 201
    assert response.json()["call_id"] == call_id


def test_feedback_does_not_disturb_the_online_scores(client, live_route):
    from analytics.services import call_score

    call_id = _answered(client, live_route)
    online = {row.scorer for row in call_score(call_id=call_id)}
    _feedback(client, call_id, {"thumbs": "down"}, live_route.auth)

    scorers = set(Score.objects.filter(call_id=call_id).values_list("scorer", flat=True))
    assert scorers == online | {"user_feedback"}


# -- refusals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [
        ({"thumbs": "up", "rating": 5}, "rating", "not both"),
        ({}, "thumbs", '"thumbs": "up" or "down", or "rating": 1-5'),
        ({"comment": "nice"}, "thumbs", 'or "rating": 1-5'),
        ({"rating": 7}, "rating", "less than or equal to 5"),
        ({"rating": 0}, "rating", "greater than or equal to 1"),
        ({"rating": "great"}, "rating", "valid integer"),
        ({"thumbs": "sideways"}, "thumbs", '"sideways" is not a valid choice'),
        ({"thumbs": "up", "comment": "x" * 2001}, "comment", "no more than 2000 characters"),
        ("[1, 2]", None, "must be a JSON object"),
        ("{not json", None, "not valid JSON"),
    ],
)
def test_bad_feedback_is_a_400_naming_the_field(client, live_route, body, param, words):
    call_id = _answered(client, live_route)

    response = _feedback(client, call_id, body, live_route.auth)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["param"] == param
    assert words in error["message"]
    assert not _stored(call_id)


@pytest.mark.parametrize(
    "auth",
    [{}, {"HTTP_AUTHORIZATION": "Bearer rl_not-a-key"}, {"HTTP_AUTHORIZATION": "Basic c3RhZmY6cHc="}],
)
def test_a_missing_or_bad_key_is_a_401(client, live_route, auth):
    call_id = _answered(client, live_route)

    response = _feedback(client, call_id, {"thumbs": "up"}, auth)

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert not _stored(call_id)


def test_a_revoked_key_is_a_401(client, live_route, django_capture_on_commit_callbacks):
    call_id = _answered(client, live_route)
    with django_capture_on_commit_callbacks(execute=True):  # the routing snapshot hears of it on commit
        services.api_key_revoke(api_key=live_route.api_key)

    assert _feedback(client, call_id, {"thumbs": "up"}, live_route.auth).status_code == 401


def test_an_unknown_call_is_a_404(client, live_route):
    response = _feedback(client, uuid.uuid4().hex, {"thumbs": "up"}, live_route.auth)

    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


def test_a_call_of_another_route_is_a_404(client, live_route):
    other = services.route_create(name="billing")
    foreign = CallFactory(route=other, prompt="hi", answer="hello")

    response = _feedback(client, foreign.id.hex, {"thumbs": "up"}, live_route.auth)

    assert response.status_code == 404
    assert not _stored(foreign.id.hex)


def test_a_key_of_the_other_route_cannot_rate_this_routes_call(
    client, live_route, django_capture_on_commit_callbacks
):
    call_id = _answered(client, live_route)
    with django_capture_on_commit_callbacks(execute=True):
        other = services.route_create(name="billing")
        _, raw = services.api_key_create(name="billing app", routes=[other])

    response = _feedback(client, call_id, {"thumbs": "up"}, {"HTTP_AUTHORIZATION": f"Bearer {raw}"})

    assert response.status_code == 404


def test_only_post_is_allowed(client, live_route):
    call_id = _answered(client, live_route)

    response = client.get(f"/api/v1/calls/{call_id}/feedback", **live_route.auth)

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_the_openapi_schema_documents_the_feedback_endpoint_and_stays_valid(client):
    from openapi_spec_validator import validate

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    validate(schema)

    operation = schema["paths"]["/api/v1/calls/{call_id}/feedback"]["post"]
    assert set(operation["responses"]) >= {"200", "201", "400", "401", "404"}


# -- the service ------------------------------------------------------------------------------------------


def test_the_service_refuses_an_unknown_kind_of_feedback(live_route):
    call = CallFactory(route=live_route.route)

    with pytest.raises(ValueError, match="feedback kind must be one of thumbs, rating, not 'stars'"):
        feedback_record(call=call, kind="stars", value=4)
    with pytest.raises(ValueError, match="stars feedback must be a whole number from 1 to 5, not 6"):
        feedback_record(call=call, kind="rating", value=6)
    assert not Score.objects.filter(call=call).exists()
