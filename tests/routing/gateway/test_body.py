"""Hostile bodies on every JSON endpoint a route API key calls: deep nesting, raw surrogates, bad UTF-8."""

import json

import httpx
import pytest

from analytics.models import Score
from routing.gateway.recorder import calls_flush
from routing.models import Call

pytestmark = pytest.mark.django_db

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def _nested(depth: int) -> bytes:
    return b'{"messages": ' + b"[" * depth + b"]" * depth + b"}"


def _answered_call_id(client, auth) -> str:
    response = client.post(
        "/v1/chat/completions", data=json.dumps({"messages": FRANCE}), content_type="application/json", **auth
    )
    assert response.status_code == 200, response.content
    calls_flush()
    return Call.objects.get().id.hex


def _endpoints(client, auth) -> list[str]:
    return [
        "/v1/chat/completions",
        "/v1/messages",
        "/api/v1/route",
        f"/api/v1/calls/{_answered_call_id(client, auth)}/feedback",
    ]


@pytest.mark.parametrize("depth", [1_000, 300_000])
def test_a_deeply_nested_body_is_a_400_naming_the_limit_on_every_key_endpoint(client, live_route, depth):
    for path in _endpoints(client, live_route.auth):
        response = client.post(path, data=_nested(depth), content_type="application/json", **live_route.auth)
        assert response.status_code == 400, (path, response.content[:300])
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert "nested deeper than 64 levels" in error["message"], path


def test_invalid_utf8_is_a_400_naming_it(client, live_route):
    body = b'{"messages": [{"role": "user", "content": "bad \xff\xfe byte"}]}'
    response = client.post(
        "/v1/chat/completions", data=body, content_type="application/json", **live_route.auth
    )
    assert response.status_code == 400
    assert "not valid UTF-8" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("content", "stored"),
    [
        (b"half \xed\xa0\x80 a pair", "half \ufffd a pair"),
        (b"half \\ud800 a pair", "half \ufffd a pair"),
        (b"a smile \xed\xa0\xbd\xed\xb8\x80", "a smile \U0001f600"),
        (b"a smile \\ud83d\\ude00", "a smile \U0001f600"),
    ],
    ids=["lone raw", "lone escaped", "pair raw", "pair escaped"],
)
def test_a_surrogate_raw_or_escaped_is_answered_and_recorded_as_unicode(client, live_route, content, stored):
    """A lone surrogate becomes U+FFFD; a pair, even as raw bytes (CESU-8), its character."""
    body = b'{"messages": [{"role": "user", "content": "' + content + b'"}]}'
    response = client.post(
        "/v1/chat/completions", data=body, content_type="application/json", **live_route.auth
    )
    assert response.status_code == 200, response.content
    calls_flush()
    assert Call.objects.get().prompt.endswith(stored)


def test_feedback_with_a_raw_surrogate_in_its_comment_is_stored(client, live_route):
    call_id = _answered_call_id(client, live_route.auth)
    body = b'{"thumbs": "up", "comment": "half \xed\xa0\x80 a pair"}'
    response = client.post(
        f"/api/v1/calls/{call_id}/feedback", data=body, content_type="application/json", **live_route.auth
    )
    assert response.status_code in (200, 201), response.content
    assert Score.objects.get(call_id=call_id, scorer="user_feedback").raw["comment"] == "half \ufffd a pair"


def test_a_raw_surrogate_over_real_http_is_answered_and_its_call_stored(asgi_server, live_route):
    body = b'{"messages": [{"role": "user", "content": "half \xed\xa0\x80 a pair"}]}'
    headers = {"Authorization": f"Bearer {live_route.key}", "Content-Type": "application/json"}

    response = httpx.post(f"{asgi_server}/v1/chat/completions", content=body, headers=headers, timeout=30)

    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"]
    calls_flush()
    assert Call.objects.filter(prompt__endswith="half \ufffd a pair").count() == 1


@pytest.mark.parametrize("depth", [1_000, 300_000])
def test_a_deeply_nested_body_over_real_http_is_a_400_not_a_500(asgi_server, live_route, depth):
    headers = {"Authorization": f"Bearer {live_route.key}", "Content-Type": "application/json"}

    response = httpx.post(
        f"{asgi_server}/v1/chat/completions", content=_nested(depth), headers=headers, timeout=30
    )

    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.json()["error"]["message"]
