"""Prompt embeddings computed once per text and kept in PostgreSQL, so no training run, evaluation or
sweep point embeds a text twice. Reads in batches by hash; the missing texts are embedded in batches and
inserted with ON CONFLICT DO NOTHING, so two runs embedding the same text at once both succeed."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from routing.learning.training import text_hash
from routing.models import TextEmbedding
from routing.policies.embeddings import EMBEDDING_MODEL, embed

BATCH = 256
LOOKUP_BATCH = 5000

Progress = Callable[[int, int], None]  # (texts done, texts in all)


def _stored(hashes: Sequence[str]) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(hashes), LOOKUP_BATCH):
        rows = TextEmbedding.objects.filter(
            embedding_model=EMBEDDING_MODEL, text_hash__in=hashes[start : start + LOOKUP_BATCH]
        ).values_list("text_hash", "vector")
        found.update((key, np.frombuffer(bytes(vector), dtype=np.float32)) for key, vector in rows)
    return found


def embeddings_get(texts: Sequence[str], *, on_progress: Progress | None = None) -> np.ndarray:
    """Unit-length embeddings (len(texts) x 384, float32) of the texts, from the store or computed now."""
    hashes = [text_hash(text) for text in texts]
    found = _stored(list(dict.fromkeys(hashes)))
    missing = list({key: text for key, text in zip(hashes, texts, strict=True) if key not in found}.items())
    done = len(texts) - sum(1 for key in hashes if key not in found)
    if on_progress is not None:
        on_progress(done, len(texts))
    for start in range(0, len(missing), BATCH):
        batch = missing[start : start + BATCH]
        vectors = np.asarray(embed([text for _, text in batch]), dtype=np.float32)
        TextEmbedding.objects.bulk_create(
            [
                TextEmbedding(
                    text_hash=key,
                    embedding_model=EMBEDDING_MODEL,
                    dimensions=len(vector),
                    vector=vector.tobytes(),
                )
                for (key, _), vector in zip(batch, vectors, strict=True)
            ],
            ignore_conflicts=True,
        )
        found.update((key, vector) for (key, _), vector in zip(batch, vectors, strict=True))
        if on_progress is not None:
            batch_keys = {key for key, _ in batch}
            done += sum(1 for key in hashes if key in batch_keys)
            on_progress(done, len(texts))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[key] for key in hashes])
