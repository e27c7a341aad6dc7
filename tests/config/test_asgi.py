import asyncio

import httpx
import pytest
from django.core.signals import request_started

from config.asgi import is_gateway_path, read_capped_body


@pytest.mark.parametrize(
    ("path", "gateway"),
    [
        ("/v1/chat/completions", True),
        ("/api/v1/route", True),
        ("/api/v1/jobs/0b3c1d3e-0000-4000-8000-000000000000", True),
        ("/api/v1/calls/0123456789abcdef0123456789abcdef/feedback", True),
        ("/api/v1/routes", False),  # the staff API of routes needs the session middleware
        ("/api/v1/routes/support-bot/policies", False),
        ("/admin/", False),
        ("/dashboard/", False),
    ],
)
def test_only_key_authenticated_endpoints_skip_the_middleware(path, gateway):
    assert is_gateway_path(path) is gateway


def _chat(url: str, key: str, content: str, **headers) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": content}]}
    headers = {"Authorization": f"Bearer {key}", **headers}
    return httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_gateway_request_sends_no_request_signals_and_is_answered(asgi_server, live_route):
    started = []

    def count(**kwargs):
        started.append(kwargs)

    request_started.connect(count)
    try:
        response = _chat(asgi_server, live_route.key, "What is the capital of France?")
        assert response.status_code == 200, response.text
        assert int(response.headers["content-length"]) == len(response.content)  # not chunked
        assert started == []  # no hop to a thread for Django's sync receivers
        assert httpx.get(f"{asgi_server}/admin/login/").status_code == 200
        assert len(started) == 1  # the rest of the site still gets the full handler
    finally:
        request_started.disconnect(count)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_body_over_the_limit_is_a_json_413_without_being_kept_whole(asgi_server, live_route, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = _chat(asgi_server, live_route.key, "x" * 50_000)
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert _chat(asgi_server, live_route.key, "What is the capital of France?").status_code == 200


@pytest.mark.parametrize("limit", [10, None])
def test_the_capped_body_keeps_one_byte_past_the_limit_at_most(limit):
    chunks = [b"a" * 8, b"b" * 8, b"c" * 8]
    messages = [{"type": "http.request", "body": c, "more_body": i < 2} for i, c in enumerate(chunks)]

    async def receive():
        return messages.pop(0)

    body = asyncio.run(read_capped_body(receive, limit))
    assert body == (b"a" * 8 + b"b" * 8 if limit else b"".join(chunks))
    assert messages == []  # the rest was drained, so the connection stays usable


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_only_exact_gateway_paths_are_kept_resolved_so_no_client_grows_the_cache(asgi_server, live_route):
    from config.asgi import gateway_application

    headers = {"Authorization": f"Bearer {live_route.key}"}
    for n in range(20):  # paths with a parameter, and paths only the catch-all matches
        assert httpx.get(f"{asgi_server}/v1/models/no-such-model-{n}", headers=headers).status_code == 404
        missing = httpx.get(f"{asgi_server}/v1/nothing-here/{n}", headers=headers)
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found"
    assert _chat(asgi_server, live_route.key, "What is the capital of France?").status_code == 200
    assert httpx.get(f"{asgi_server}/v1/models", headers=headers).status_code == 200
    assert set(gateway_application._exact) <= {"/v1/chat/completions", "/v1/models"}
    assert "/v1/chat/completions" in gateway_application._exact


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_exception_in_a_gateway_view_is_djangos_500_and_is_logged(
    asgi_server, live_route, monkeypatch, caplog
):
    from routing.gateway import proxy

    async def broken(*args, **kwargs):
        raise RuntimeError("a bug in the view")

    monkeypatch.setattr(proxy, "serve_chat", broken)
    with caplog.at_level("ERROR", logger="django.request"):
        response = _chat(asgi_server, live_route.key, "What is the capital of France?")
    assert response.status_code == 500
    assert "a bug in the view" not in response.text  # DEBUG is off: no traceback for the client
    assert response.headers["x-request-id"]
    logged = [r for r in caplog.records if r.name == "django.request" and r.levelname == "ERROR"]
    assert logged and "/v1/chat/completions" in logged[0].getMessage() and logged[0].exc_info
