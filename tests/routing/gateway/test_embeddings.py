"""POST /v1/embeddings (gateway/embeddings.py): its body checks, its answer's encodings, routing among
embedding models only, and the one call row it records; the simulator's deterministic vectors."""

import base64
import json
import math
import struct
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from devtools.simulator.embeddings_api import embeddings_payload, vector
from devtools.simulator.wire import RequestError
from routing import services
from routing.gateway.chat_body import BodyError
from routing.gateway.embeddings import embeddings_body, validate_embeddings_body
from routing.gateway.recorder import calls_flush
from routing.models import Call, Provider
from routing.policies import compile_policy
from routing.policies.types import Candidate, NoEligibleModel, RouteRequest, RoutingContext
from routing.providers.base import CompletionResult
from tests.factories import embedding_model_create


def test_a_string_or_a_list_of_strings_is_taken_with_its_options():
    assert validate_embeddings_body({"input": "hi", "model": "route:x"}) == {
        "input": ("hi",),
        "stream": False,
        "encoding_format": "float",
        "model": "route:x",
    }
    clean = validate_embeddings_body({"input": ["a", "b"], "encoding_format": "base64", "dimensions": 8})
    assert clean["input"] == ("a", "b") and clean["encoding_format"] == "base64" and clean["dimensions"] == 8


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        ({}, "input", "required"),
        ({"input": [1, 2, 3]}, "input", "Token arrays are not supported"),
        ({"input": [[1, 2], [3]]}, "input", "Token arrays are not supported"),
        ({"input": []}, "input", "non-empty list"),
        ({"input": ["ok", ""]}, "input[1]", "non-empty string"),
        ({"input": "hi", "encoding_format": "int8"}, "encoding_format", "not a valid choice"),
        ({"input": "hi", "dimensions": 0}, "dimensions", "greater than or equal to 1"),
        ({"input": "hi", "messages": []}, "messages", "Unrecognized"),
        ("hi", "", "JSON object"),
    ],
)
def test_a_bad_field_is_named(data, path, words):
    with pytest.raises(BodyError) as refused:
        validate_embeddings_body(data)
    assert refused.value.path == path and words in refused.value.message


def test_base64_is_the_little_endian_float32_array_of_each_vector():
    result = CompletionResult(
        text="",
        finish_reason="stop",
        input_tokens=3,
        output_tokens=0,
        cost=Decimal(0),
        latency_ms=1.0,
        model="e",
        embeddings=((0.5, -0.25), (1.0, 0.0)),
    )
    floats = embeddings_body(result)
    assert floats["data"][1] == {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]}
    assert floats["usage"] == {"prompt_tokens": 3, "total_tokens": 3} and floats["object"] == "list"
    packed = base64.b64decode(embeddings_body(result, "base64")["data"][0]["embedding"])
    assert struct.unpack("<2f", packed) == (0.5, -0.25)


def _candidate(key: str, **flags) -> Candidate:
    return Candidate(key, "cheap", 1.0, 1.0, 8_000, 1_000, **flags)


def test_an_embeddings_request_is_served_by_embedding_models_and_a_chat_never_is():
    policy = compile_policy(
        {"kind": "rules", "rules": [], "default": "p/chat", "default_fallbacks": ["p/embed"]}
    )
    context = RoutingContext(candidates=(_candidate("p/chat"), _candidate("p/embed", embeddings=True)))
    embed = policy.decide(RouteRequest(text="a", input_tokens=1, needs_embeddings=True), context)
    assert embed.model == "p/embed" and "skipped p/chat: not an embedding model" in embed.trace
    chat = policy.decide(RouteRequest(text="a", input_tokens=1), context)
    assert chat.model == "p/chat" and chat.fallbacks == ()
    only_chat = RoutingContext(candidates=(_candidate("p/chat"),))
    with pytest.raises(NoEligibleModel):
        policy.decide(RouteRequest(text="a", input_tokens=1, needs_embeddings=True), only_chat)


def test_the_simulator_embeds_deterministically_in_unit_vectors():
    body = embeddings_payload({"model": "text-embedding-3-small", "input": ["cat", "dog"]}, seed=7)
    cat, dog = (item["embedding"] for item in body["data"])
    assert cat == vector(7, "text-embedding-3-small", "cat", 1536) and cat != dog
    assert math.isclose(math.fsum(x * x for x in cat), 1.0, abs_tol=1e-5)
    assert body["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    with pytest.raises(RequestError) as refused:
        embeddings_payload({"model": "gpt-4o", "input": "cat"}, seed=7)
    assert refused.value.status == 404 and refused.value.param == "model"


@pytest.fixture
def embedder(live_route):
    """An embedding model on `live_route`'s simulator, and the support-bot route's policy naming it."""
    model = embedding_model_create(
        provider=live_route.models[0].provider, model_id="text-embedding-3-large", input_price="0.13"
    )
    spec = {
        "kind": "rules",
        "rules": [],
        "default": model.key,
        "default_fallbacks": ["simulator/gpt-4o-mini"],
    }
    version = services.policy_create(route=live_route.route, name="with-embeddings", spec=spec)
    services.route_set_live_policy(route=live_route.route, version=version)
    return model


def _post(client, live_route, body):
    return client.post(
        "/v1/embeddings", data=json.dumps(body), content_type="application/json", **live_route.auth
    )


@pytest.mark.django_db
def test_the_endpoint_embeds_with_the_routes_embedding_model_and_records_one_call(
    client, live_route, embedder
):
    response = _post(client, live_route, {"input": ["a cat", "a dog sat"], "user": "u1", "dimensions": 4})
    assert response.status_code == 200, response.content
    assert response.json()["data"][0]["embedding"] == pytest.approx(vector(7, embedder.model_id, "a cat", 4))
    assert response["x-routelab-model"] == "simulator/text-embedding-3-large"
    assert calls_flush() == 1
    call = Call.objects.get()
    assert (call.status, call.model_id, call.input_tokens, call.output_tokens) == ("ok", embedder.id, 5, 0)
    assert call.cost == Decimal("0.00000065") and call.latency_ms > 0  # 5 tokens at $0.13 per million
    assert "a cat" in call.prompt


@pytest.mark.django_db
def test_a_chat_on_the_same_route_skips_the_embedding_model(client, live_route, embedder):
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    response = client.post(
        "/v1/chat/completions", data=body, content_type="application/json", **live_route.auth
    )
    assert response.status_code == 200 and response["x-routelab-model"] == "simulator/gpt-4o-mini"


@pytest.mark.django_db
def test_a_route_whose_policy_names_no_embedding_model_is_a_400(client, live_route):
    response = _post(client, live_route, {"input": "hi"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "model"
    assert "names no embedding model" in response.json()["error"]["message"]
    assert calls_flush() == 0


@pytest.mark.django_db
def test_bad_input_is_a_400_in_openais_shape(client, live_route, embedder):
    response = _post(client, live_route, {"input": [[1, 2]]})
    error = response.json()["error"]
    assert (
        response.status_code == 400 and error["type"] == "invalid_request_error" and error["param"] == "input"
    )
    assert client.get("/v1/embeddings", **live_route.auth).status_code == 405


@pytest.mark.django_db
def test_an_anthropic_model_cannot_be_an_embedding_model():
    provider = services.provider_create(
        name="claude", kind=Provider.Kind.ANTHROPIC, base_url="https://x.test"
    )
    with pytest.raises(ValidationError) as refused:
        services.model_create(
            provider=provider,
            model_id="claude-embed",
            input_price_per_mtok=Decimal("1"),
            output_price_per_mtok=Decimal("1"),
            context_window=1000,
            max_output_tokens=100,
            supports_embeddings=True,
        )
    assert "supports_embeddings" in refused.value.message_dict


@pytest.mark.django_db
def test_a_policy_over_the_whole_registry_embeds_with_the_registrys_embedding_model(
    client, live_route, embedder
):
    version = services.policy_create(route=live_route.route, name="any", spec={"kind": "hybrid"})
    services.route_set_live_policy(route=live_route.route, version=version)
    response = _post(client, live_route, {"input": "hi"})
    assert response.status_code == 200, response.content
    assert response["x-routelab-model"] == "simulator/text-embedding-3-large"
