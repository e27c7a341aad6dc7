"""OpenAI's embeddings wire format for the simulator: deterministic unit vectors and usage tokens.

A vector is fixed by (seed, model, text): the same text always embeds the same way, different texts
almost never alike, so clients and tests can check what they got back without a real model.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from devtools.simulator.wire import RequestError


@dataclass(frozen=True)
class EmbeddingProfile:
    """One simulated embedding model: its native vector length and list price per million input tokens."""

    name: str
    dimensions: int
    input_price_per_mtok: Decimal


EMBEDDING_PROFILES: tuple[EmbeddingProfile, ...] = (
    EmbeddingProfile("text-embedding-3-small", 1536, Decimal("0.02")),
    EmbeddingProfile("text-embedding-3-large", 3072, Decimal("0.13")),
)
ENCODINGS = ("float", "base64")


def embeddings_payload(body: dict[str, Any], seed: int) -> dict[str, Any]:
    """The answer to one POST /v1/embeddings body, or a RequestError naming the bad field."""
    profile = _profile(body.get("model"))
    texts = _texts(body.get("input"))
    dimensions = _dimensions(body.get("dimensions"), profile)
    encoding = body.get("encoding_format") or "float"
    if encoding not in ENCODINGS:
        raise RequestError(f"'encoding_format' must be one of {list(ENCODINGS)}.", param="encoding_format")
    vectors = (vector(seed, profile.name, text, dimensions) for text in texts)
    data = [
        {"object": "embedding", "index": index, "embedding": _encoded(values, encoding)}
        for index, values in enumerate(vectors)
    ]
    tokens = sum(math.ceil(len(text) / 4) for text in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return {"object": "list", "data": data, "model": profile.name, "usage": usage}


def vector(seed: int, model: str, text: str, dimensions: int) -> list[float]:
    """A unit vector seeded by a hash of (seed, model, text)."""
    material = f"{seed}\x1f{model}\x1f{text}".encode()
    rng = random.Random(int.from_bytes(hashlib.sha256(material).digest()[:16], "big"))
    raw = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [round(x / norm, 7) for x in raw]


def _profile(model: Any) -> EmbeddingProfile:
    for profile in EMBEDDING_PROFILES:
        if profile.name == model:
            return profile
    message = f"The model {model!r} does not exist or is not an embedding model."
    raise RequestError(message, param="model", status=404, code="model_not_found")


def _texts(value: Any) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        raise RequestError("'input' must be a non-empty string or list of non-empty strings.", param="input")
    return texts


def _dimensions(value: Any, profile: EmbeddingProfile) -> int:
    if value is None:
        return profile.dimensions
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= profile.dimensions:
        message = f"'dimensions' must be an integer from 1 to {profile.dimensions} for {profile.name}."
        raise RequestError(message, param="dimensions")
    return value


def _encoded(values: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return values
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode("ascii")
