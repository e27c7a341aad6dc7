"""One JSON 413 for an oversized body from the staff API and the gateway, declared or chunked (real HTTP)."""

import httpx
import pytest
from django.conf import settings

LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
MESSAGE = f"The request body is larger than the {LIMIT:,} bytes this server accepts (MAX_REQUEST_BYTES)."
EXPECTED = {"error": {"message": MESSAGE, "type": "request_too_large", "param": None, "code": None}}
PATHS = ["/api/v1/routes", "/api/v1/providers", "/v1/chat/completions", "/api/v1/route"]


def _too_big() -> bytes:
    return b'{"name": "' + b"x" * (LIMIT + 1) + b'"}'


def _chunks(body: bytes):
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


@pytest.fixture
def headers(live_route):
    return {"Authorization": f"Bearer {live_route.key}", "Content-Type": "application/json"}


@pytest.mark.parametrize("path", PATHS)
def test_an_oversized_body_with_its_length_is_the_same_json_413_everywhere(asgi_server, headers, path):
    response = httpx.post(f"{asgi_server}{path}", content=_too_big(), headers=headers, timeout=30)

    assert response.status_code == 413, response.text[:300]
    assert response.json() == EXPECTED


@pytest.mark.parametrize("path", PATHS)
def test_an_oversized_chunked_body_without_a_length_is_a_413_too(asgi_server, headers, path):
    response = httpx.post(f"{asgi_server}{path}", content=_chunks(_too_big()), headers=headers, timeout=30)

    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413, response.text[:300]
    assert response.json() == EXPECTED


def test_a_chunked_web_form_over_the_limit_gets_the_413_page(asgi_server):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    body = b"name=r&description=" + b"x" * (LIMIT + 1)

    response = httpx.post(f"{asgi_server}/routes/", content=_chunks(body), headers=headers, timeout=30)

    assert response.status_code == 413
    assert "Request too large" in response.text and f"{LIMIT:,} bytes" in response.text
