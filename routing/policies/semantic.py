"""`semantic`: the route whose example utterances are nearest to the request, by cosine similarity.

    {"kind": "semantic",
     "routes": [{"name": "billing", "model": "openai/gpt-4o-mini",
                 "utterances": ["I want a refund", "my invoice is wrong"]}],
     "threshold": 0.5, "default": "openai/gpt-4o"}

The caller injects the embedder (`RoutingContext.embed`; `routing.policies.embeddings.embed` in
production). Utterances are embedded once per policy instance and embedder, the request text per call.
A route's score is its best utterance's cosine similarity; below `threshold` the default model serves.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from routing.policies.base import Choice, Eligibility, Policy
from routing.policies.spec import Field, optional
from routing.policies.text import preview
from routing.policies.types import Embedder, RouteRequest, RoutingContext

# The local model reads about 256 word pieces; embedding more text costs time and changes nothing.
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True, slots=True)
class SemanticRoute:
    name: str
    model: str
    utterances: tuple[str, ...]
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UtteranceIndex:
    """Unit-length utterance embeddings (one row each) and, per row, its route index and text."""

    embed: Embedder
    matrix: np.ndarray
    owners: tuple[tuple[int, str], ...]


def unit_rows(vectors: Sequence[Sequence[float]], expected: int) -> np.ndarray:
    """Vectors as rows scaled to unit length, so a dot product is the cosine similarity."""
    matrix = np.asarray(vectors, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != expected:
        raise ValueError(f"the embedder returned shape {matrix.shape} for {expected} texts")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0.0, 1.0, norms)


def compile_route(field: Field, index: int, seen: set[str]) -> SemanticRoute:
    fields = field.obj(required=("name", "model", "utterances"), optional=("fallbacks",))
    name = fields["name"].text()
    if name in seen:
        raise fields["name"].error(f"duplicate route name {name!r}")
    seen.add(name)
    return SemanticRoute(
        name=name,
        model=fields["model"].model(),
        utterances=fields["utterances"].texts(),
        fallbacks=optional(fields, "fallbacks", Field.models, ()),
    )


class SemanticPolicy(Policy):
    kind = "semantic"
    required_keys = ("routes", "default")
    optional_keys = ("threshold", "default_fallbacks")

    def __init__(
        self,
        routes: tuple[SemanticRoute, ...],
        default: str,
        threshold: float = 0.5,
        default_fallbacks: tuple[str, ...] = (),
        **common: Any,
    ):
        super().__init__(**common)
        self.routes = routes
        self.default = default
        self.threshold = threshold
        self.default_fallbacks = default_fallbacks
        self._index: UtteranceIndex | None = None
        self._lock = threading.Lock()

    @classmethod
    def compile(cls, fields: dict[str, Field], **common: Any) -> SemanticPolicy:
        seen: set[str] = set()
        routes = tuple(
            compile_route(item, index, seen) for index, item in enumerate(fields["routes"].items())
        )
        return cls(
            routes,
            fields["default"].model(),
            threshold=optional(fields, "threshold", lambda f: f.number(0.0, 1.0), 0.5),
            default_fallbacks=optional(fields, "default_fallbacks", Field.models, ()),
            **common,
        )

    def models_referenced(self) -> set[str]:
        keys = {self.default, *self.default_fallbacks}
        for route in self.routes:
            keys.update((route.model, *route.fallbacks))
        return keys

    def utterance_index(self, embed: Embedder) -> UtteranceIndex:
        """The utterance embeddings for this embedder, computed on first use and kept."""
        index = self._index
        if index is not None and index.embed == embed:
            return index
        with self._lock:
            if self._index is None or self._index.embed != embed:
                owners = tuple(
                    (at, text) for at, route in enumerate(self.routes) for text in route.utterances
                )
                matrix = unit_rows(embed([text for _, text in owners]), expected=len(owners))
                self._index = UtteranceIndex(embed, matrix, owners)
            return self._index

    def nearest(self, text: str, embed: Embedder) -> tuple[SemanticRoute, str, float]:
        """The nearest route, the utterance that made it nearest, and the cosine similarity."""
        index = self.utterance_index(embed)
        query = unit_rows(embed([text[:MAX_QUERY_CHARS]]), expected=1)[0]
        similarities = index.matrix @ query
        best = int(np.argmax(similarities))
        route_at, utterance = index.owners[best]
        return self.routes[route_at], utterance, float(similarities[best])

    def _default(self, trace: list[str], why: str) -> Choice:
        trace.append(f"{why}: default {self.default}")
        return Choice((self.default, *self.default_fallbacks))

    def choose(
        self, request: RouteRequest, context: RoutingContext, eligibility: Eligibility, trace: list[str]
    ) -> Choice:
        if context.embed is None:
            return self._default(trace, "no embedder given")
        try:
            route, utterance, score = self.nearest(request.text, context.embed)
        except Exception as exc:  # noqa: BLE001 - an embedder failure must degrade to the default, not fail the call
            return self._default(trace, f"embedding failed ({type(exc).__name__}: {exc})")
        if score < self.threshold:
            why = f"nearest route {route.name!r} scores {score:.3f} < threshold {self.threshold}"
            choice = self._default(trace, why)
            return Choice(choice.preferred, score=score)
        trace.append(
            f"nearest route {route.name!r}: similarity {score:.3f} >= {self.threshold}"
            f" (to {preview(utterance, 40)!r}) -> {route.model}"
        )
        return Choice((route.model, *route.fallbacks), score=score)
