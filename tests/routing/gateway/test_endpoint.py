"""The key-authenticated endpoints share one decorator: method, key, JSON errors, and their OpenAPI entry.

The schema documents the bodies that `validate_chat_body` accepts: the same fields, the same required
ones, and the same bounds, checked here by sending each documented bound (and one step past it) to the
validator.
"""

from __future__ import annotations

import json
import uuid

import pytest
from openapi_spec_validator import validate

from routing.gateway.chat_body import FORWARDED, OPTIONAL, ROUTE_ONLY, BodyError, validate_chat_body

KEY_ENDPOINTS = {
    "/v1/chat/completions": ("post", "/v1/chat/completions"),
    "/api/v1/route": ("post", "/api/v1/route"),
    "/api/v1/jobs/{job_id}": ("get", f"/api/v1/jobs/{uuid.uuid4()}"),
    "/api/v1/calls/{call_id}/feedback": ("post", f"/api/v1/calls/{uuid.uuid4().hex}/feedback"),
    "/v1/messages": ("post", "/v1/messages"),
    "/v1/embeddings": ("post", "/v1/embeddings"),
    "/v1/responses": ("post", "/v1/responses"),
    "/v1/models": ("get", "/v1/models"),
    "/v1/models/{model}": ("get", "/v1/models/route:x"),
}
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    document = json.loads(response.content)
    validate(document)
    return document


def _component(schema: dict, operation: dict) -> dict:
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]


@pytest.mark.parametrize("path", KEY_ENDPOINTS)
def test_every_key_endpoint_is_documented_with_the_key_scheme_and_error_shape(schema, path):
    method, _ = KEY_ENDPOINTS[path]
    operation = schema["paths"][path][method]

    assert operation["security"] == [{"routeApiKey": []}]
    assert {"401", "405"} <= set(operation["responses"])
    error = operation["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
    assert error.endswith("/Error")
    if "requestBody" in operation:
        assert list(operation["requestBody"]["content"]) == ["application/json"]


def test_the_chat_endpoint_documents_its_request_and_its_completion(schema):
    operation = schema["paths"]["/v1/chat/completions"]["post"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]

    assert answer.endswith("/ChatCompletion")
    completion = schema["components"]["schemas"]["ChatCompletion"]["properties"]
    assert {"id", "object", "created", "model", "choices", "usage", "routelab"} <= set(completion)
    assert {"429", "502", "503"} <= set(operation["responses"])


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/v1/chat/completions", {"messages", *OPTIONAL, *FORWARDED} - set(ROUTE_ONLY)),
        ("/api/v1/route", {"messages", *OPTIONAL, *FORWARDED}),
    ],
)
def test_the_documented_fields_are_the_fields_the_validator_reads(schema, path, fields):
    body = _component(schema, schema["paths"][path]["post"])

    assert set(body["properties"]) == fields
    assert body["required"] == ["messages"]


def _bounded(schema: dict) -> list[tuple[str, dict]]:
    body = _component(schema, schema["paths"]["/api/v1/route"]["post"])["properties"]
    keys = {"minimum", "maximum", "maxLength"}
    return [(name, spec) for name, spec in body.items() if keys & set(spec)]


def _valid_with(name: str, value) -> dict:
    """The validated body with the forwarded parameters beside the others."""
    needs = {"logprobs": True} if name == "top_logprobs" else {}
    clean = validate_chat_body({"messages": HELLO, name: value, **needs})
    return {**clean, **clean["params"]}


def test_the_validator_enforces_every_documented_bound_and_no_tighter_one(schema):
    bounded = _bounded(schema)
    assert {name for name, _ in bounded} >= {"temperature", "max_tokens", "model", "user"}
    for name, spec in bounded:
        if "maxLength" in spec:
            prefix = "https://example.com/" if name == "webhook_url" else ""
            longest = prefix + "x" * (spec["maxLength"] - len(prefix))
            assert _valid_with(name, longest)[name] == longest
            with pytest.raises(BodyError) as refused:
                _valid_with(name, longest + "x")
            assert refused.value.path == name
        for bound, step in (("minimum", -1), ("maximum", 1)):
            if bound in spec:
                assert _valid_with(name, spec[bound])[name] == spec[bound]
                with pytest.raises(BodyError) as refused:
                    _valid_with(name, spec[bound] + step)
                assert refused.value.path == name


def test_the_documented_message_roles_are_the_validated_ones(schema):
    roles = schema["components"]["schemas"]["RoleEnum"]["enum"]
    for role in roles:
        message = {"role": role, "content": "hi"}
        if role == "tool":
            message["tool_call_id"] = "call_1"
        assert validate_chat_body({"messages": [message]})["messages"][0]["role"] == role
    with pytest.raises(BodyError, match="messages\\[0\\].role"):
        validate_chat_body({"messages": [{"role": "wizard", "content": "hi"}]})


@pytest.mark.django_db
@pytest.mark.parametrize("path", KEY_ENDPOINTS)
def test_the_wrong_method_is_a_json_405_naming_the_right_one(client, path):
    method, url = KEY_ENDPOINTS[path]
    wrong = client.get if method == "post" else client.post

    response = wrong(url)

    assert response.status_code == 405
    assert response["Allow"] == method.upper()
    assert response.json()["error"]["message"] == f"Use {method.upper()}."


@pytest.mark.django_db
@pytest.mark.parametrize("path", KEY_ENDPOINTS)
def test_no_key_is_a_json_401_before_the_body_is_read(client, path):
    method, url = KEY_ENDPOINTS[path]

    response = client.generic(method.upper(), url, data="{not json", content_type="application/json")

    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
