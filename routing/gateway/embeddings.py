"""POST /v1/embeddings: OpenAI's embeddings API, routed by the key's route to its embedding models.

The route's policy decides as for a chat, among embedding models only (`RouteRequest.needs_embeddings`);
a policy that names none is a 400 saying so. The call runs through the same resilience (retries,
fallbacks, breakers) and is recorded as one call row: input tokens, their cost, latency and status.
Token arrays as input are refused: routelab routes on text.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import struct
from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from routing.gateway.body import json_body
from routing.gateway.chat_body import (
    OPTIONAL,
    REQUIRED,
    BodyError,
    _choice,
    _metadata,
    _object,
    _positive_int,
)
from routing.gateway.endpoint import ErrorSerializer, key_endpoint
from routing.gateway.errors import GatewayError
from routing.gateway.execute import Execution
from routing.gateway.proxy import OPENAI, serve
from routing.gateway.record import CallDraft
from routing.policies.types import RouteRequest
from routing.providers.base import EmbeddingRequest, estimate_tokens

MAX_INPUTS = 2048
MAX_INPUT_CHARS = 1_000_000
ENCODINGS = ("float", "base64")
TOKEN_ARRAYS = (
    "Token arrays are not supported: routelab routes on text. Send the text as a string or a list of strings."
)
CHECKS = {
    "model": OPTIONAL["model"],
    "user": OPTIONAL["user"],
    "metadata": _metadata,
    "encoding_format": lambda v: _choice(v, "encoding_format", ENCODINGS),
    "dimensions": lambda v: _positive_int(v, "dimensions"),
}


class EmbeddingsInputSerializer(serializers.Serializer):
    """The body of POST /v1/embeddings, as OpenAI documents it (text input only)."""

    input = serializers.JSONField(help_text="A string or a list of strings (token arrays are refused)")
    model = serializers.CharField(required=False, max_length=200, help_text="A route, `route:<name>`")
    encoding_format = serializers.ChoiceField(choices=ENCODINGS, required=False, default="float")
    dimensions = serializers.IntegerField(required=False, min_value=1)
    user = serializers.CharField(required=False, max_length=256)
    metadata = serializers.DictField(child=serializers.CharField(max_length=200), required=False)


class EmbeddingListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = serializers.ListField(child=serializers.DictField())
    model = serializers.CharField()
    usage = serializers.DictField(child=serializers.IntegerField())


# -- request ------------------------------------------------------------------------------------------


def validate_embeddings_body(data: Any) -> dict:
    """The checked body; an unknown field, a token array or a bad value is a BodyError naming it."""
    body = _object(data, "")
    for name in body:
        if name != "input" and name not in CHECKS:
            raise BodyError(name[:100], "Unrecognized request argument supplied.")
    clean: dict[str, Any] = {"input": _inputs(body.get("input")), "stream": False, "encoding_format": "float"}
    for name, check in CHECKS.items():
        if body.get(name) is not None:
            clean[name] = check(body[name])
    return clean


def _inputs(value: Any) -> tuple[str, ...]:
    if value is None:
        raise BodyError("input", REQUIRED)
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts:
        raise BodyError("input", "Must be a string or a non-empty list of strings.")
    if len(texts) > MAX_INPUTS:
        raise BodyError("input", f"Ensure it has no more than {MAX_INPUTS} items.")
    for index, text in enumerate(texts):
        _text(text, "input" if isinstance(value, str) else f"input[{index}]")
    return tuple(texts)


def _text(text: Any, path: str) -> None:
    if isinstance(text, int | list) and not isinstance(text, bool):
        raise BodyError("input", TOKEN_ARRAYS)
    if not isinstance(text, str) or not text:
        raise BodyError(path, "Must be a non-empty string.")
    if len(text) > MAX_INPUT_CHARS:
        raise BodyError(path, f"Ensure this field has no more than {MAX_INPUT_CHARS} characters.")


def embedding_request_from(data: dict) -> EmbeddingRequest:
    return EmbeddingRequest(inputs=data["input"], dimensions=data.get("dimensions"), user=data.get("user"))


def route_request_from_embeddings(work: EmbeddingRequest, metadata: dict[str, str]) -> RouteRequest:
    return RouteRequest(
        text="\n".join(work.inputs),
        input_tokens=estimate_tokens(work.chars),
        feature=metadata.get("feature"),
        user_tier=metadata.get("user_tier"),
        metadata=metadata,
        needs_embeddings=True,
    )


# -- answer -------------------------------------------------------------------------------------------


def embeddings_body(result, encoding_format: str = "float") -> dict:
    """OpenAI's embedding list for a finished call: one `embedding` object per input, in order."""
    data = [
        {"object": "embedding", "index": index, "embedding": _encoded(vector, encoding_format)}
        for index, vector in enumerate(result.embeddings)
    ]
    usage = {"prompt_tokens": result.input_tokens, "total_tokens": result.input_tokens}
    return {"object": "list", "data": data, "model": result.model, "usage": usage}


def _encoded(vector: tuple[float, ...], encoding_format: str) -> list[float] | str:
    """Floats, or base64 of the little-endian float32 array, as OpenAI's API sends them."""
    if encoding_format == "float":
        return list(vector)
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def _answer(draft: CallDraft, execution: Execution, *, encoding_format: str) -> dict:
    return embeddings_body(execution.result, encoding_format)


@key_endpoint(
    "POST",
    request=EmbeddingsInputSerializer,
    responses={
        200: OpenApiResponse(EmbeddingListSerializer, description="One vector per input, in order"),
        429: OpenApiResponse(ErrorSerializer, description="Every model was rate-limited"),
        502: OpenApiResponse(ErrorSerializer, description="Every model failed"),
    },
)
async def embeddings(request: HttpRequest, *, key, snapshot) -> HttpResponse:
    """OpenAI's embeddings: routed by the key's route to an embedding model its policy names."""
    try:
        data = validate_embeddings_body(json_body(request))
    except BodyError as exc:
        raise GatewayError(400, str(exc), param=exc.path or None) from None
    work = embedding_request_from(data)
    route_request = route_request_from_embeddings(work, dict(data.get("metadata") or {}))
    answer = functools.partial(_answer, encoding_format=data["encoding_format"])
    dialect = dataclasses.replace(OPENAI, answer=answer)
    return await serve(data, work, route_request, key=key, snapshot=snapshot, dialect=dialect)
