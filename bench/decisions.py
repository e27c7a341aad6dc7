"""Decision time per policy kind, in process: `python bench/decisions.py [--calls N]`.

Each kind decides the same mix of requests (short question, long analysis, code block) over a catalogue
of six models. The llm_router's classifier call and the cascade's later calls are I/O the executor runs
outside `decide`, so they are not in these figures; the semantic kind includes embedding the request
with the local MiniLM model when sentence-transformers is installed. The learned kind routes with a
k-nearest-neighbour router over 11,000 stored prompts (MMLU's training split is that size) and with a
linear one, with the request's embedding remembered (`cached_embed`, a repeated prompt), and the knn
router again embedding every request afresh.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from routing.policies import compile_policy  # noqa: E402
from tests.routing.policies.catalog import ALL, EXAMPLES, context, request  # noqa: E402

ROUTER_ITEMS = 11_000
REQUESTS = (
    request("What is the capital of France?"),
    request("Analyze the trade-offs between optimistic and pessimistic locking in depth. " * 8),
    request("Why does this fail?\n```python\nprint(1/0)\n```"),
)


def _embedder():
    try:
        from routing.policies.embeddings import embed
    except ImportError:
        return None
    try:
        embed(["warm up"])
    except Exception:  # noqa: BLE001 - no model here: the semantic kind is skipped, and says so
        return None
    return embed


def _router(family: str = "knn"):
    """A router of `family` fitted on ROUTER_ITEMS random unit embeddings, for the learned kind's models."""
    import numpy as np

    from routing.learning.families import predictor_fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(ROUTER_ITEMS, 384))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = (rng.random((ROUTER_ITEMS, 2)) < [0.68, 0.81]).astype(float)
    return predictor_fit(family, x, y, EXAMPLES["learned"]["models"], None)


def measure(kind: str, calls: int, embed, router=None) -> list[float]:
    policy = compile_policy(EXAMPLES[kind])
    ctx = context(
        candidates=ALL,
        classification='{"complexity": "COMPLEX"}',
        embed=embed,
        budget_remaining=5.0,
        router=router,
    )
    for req in REQUESTS:  # warm caches (compiled regexes, utterance embeddings)
        policy.decide(req, ctx)
    timings = []
    for i in range(calls):
        req = REQUESTS[i % len(REQUESTS)]
        started = time.perf_counter_ns()
        policy.decide(req, ctx)
        timings.append((time.perf_counter_ns() - started) / 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    args = parser.parse_args()
    embed = _embedder()
    print(f"decision time per policy kind, {args.calls} decisions each (microseconds)")
    print(f"{'kind':<24} {'mean':>9} {'p50':>9} {'p99':>9}")
    runs = [(kind, kind, embed, None) for kind in EXAMPLES if kind != "learned"]
    if embed is not None:
        from routing.policies.embeddings import cached_embed

        knn, linear = _router("knn"), _router("linear")
        runs += [
            ("learned", "learned knn (cached)", cached_embed, knn),
            ("learned", "learned linear (cached)", cached_embed, linear),
            ("learned", "learned knn (embedding)", embed, knn),
        ]
    for kind, label, embedder, router in runs:
        if kind == "semantic" and embed is None:
            print(f"{kind:<24} skipped: sentence-transformers and the MiniLM model are not installed")
            continue
        slow = embedder is embed and kind in ("semantic", "learned")
        calls = max(args.calls // 20, 200) if slow else args.calls
        timings = sorted(measure(kind, calls, embedder, router))
        p99 = timings[int(len(timings) * 0.99) - 1]
        print(f"{label:<24} {statistics.fmean(timings):>9.1f} {statistics.median(timings):>9.1f} {p99:>9.1f}")
    if embed is None:
        print(f"{'learned':<24} skipped: sentence-transformers and the MiniLM model are not installed")


if __name__ == "__main__":
    main()
